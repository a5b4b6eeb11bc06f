#!/usr/bin/env python3
"""Surgery on sample files for the fault tests (tests/faults/sample_changes.sh). Not a test.

  safetensors_edit.py flip FILE TENSOR [--fix-digest]   negate the tensor's first 4 values in place
  safetensors_edit.py nan FILE TENSOR [--fix-digest]    make the tensor's first value NaN in place
  safetensors_edit.py middle FILE                       negate one value in the middle of the file
  safetensors_edit.py strip-digest FILE                 rewrite FILE without content_sha256

In-place edits keep the file's size. --fix-digest also rewrites the recorded content_sha256 (the
same length), as a capture tool that recaptured the layer would.
"""
import hashlib
import json
import struct
import sys

SIZES = {"F16": 2, "BF16": 2, "F32": 4}
SIGN_BIT = {"F16": (1, 0x80), "BF16": (1, 0x80), "F32": (3, 0x80)}  # (byte within the value, mask)
NAN = {"F16": b"\x00\x7e", "BF16": b"\xc0\x7f", "F32": b"\x00\x00\xc0\x7f"}


def read(path):
    with open(path, "rb") as f:
        blob = bytearray(f.read())
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length])
    return blob, length, header


def fix_digest(blob, length, header):
    meta = header.get("__metadata__", {})
    old = meta.get("content_sha256")
    assert old is not None, "no content_sha256 to fix"
    new = hashlib.sha256(bytes(blob[8 + length:])).hexdigest()
    text = bytes(blob[8:8 + length]).replace(old.encode(), new.encode())
    assert len(text) == length
    blob[8:8 + length] = text


def main():
    command, path = sys.argv[1], sys.argv[2]
    blob, length, header = read(path)
    start = 8 + length
    if command in ("flip", "nan"):
        info = header[sys.argv[3]]
        dtype, begin = info["dtype"], start + info["data_offsets"][0]
        if command == "flip":
            byte, mask = SIGN_BIT[dtype]
            for i in range(4):
                blob[begin + i * SIZES[dtype] + byte] ^= mask
        else:
            blob[begin:begin + SIZES[dtype]] = NAN[dtype]
        if "--fix-digest" in sys.argv:
            fix_digest(blob, length, header)
    elif command == "middle":
        # The value holding the file's middle byte, in whichever tensor that is.
        middle = len(blob) // 2
        for name, info in header.items():
            if name == "__metadata__":
                continue
            b, e = (start + o for o in info["data_offsets"])
            if b <= middle < e:
                size = SIZES[info["dtype"]]
                value = b + (middle - b) // size * size
                byte, mask = SIGN_BIT[info["dtype"]]
                blob[value + byte] ^= mask
                break
        else:
            sys.exit("the middle of the file is not in a tensor")
    elif command == "strip-digest":
        header.get("__metadata__", {}).pop("content_sha256", None)
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        blob = bytearray(struct.pack("<Q", len(text)) + text + bytes(blob[start:]))
    else:
        sys.exit(f"unknown command {command}")
    with open(path, "r+b" if command != "strip-digest" else "wb") as f:
        f.write(blob)  # in place: same size, same inode


main()
