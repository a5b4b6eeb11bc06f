// Synthetic caches (docs/spec/DATA.md "Synthetic caches").
//
// How the structure is planted. Every query and key vector is a sum of components in disjoint
// coordinate blocks of the d-dim head space, each written in "logit units": a query component
// of strength s and a key component of amplitude a are both scaled by d^(1/4), so their product
// contributes exactly s·a to the attention logit q·k/√d. Attention is then the real softmax of
// these vectors (nothing is written as attention directly), so every method sees a consistent
// Q/K/V and the planted effects are what the softmax makes of them.
//
//   dim 0        sink: keys of tokens [0, 4) carry amplitude 0.8–1, every query a strength of
//                4.5–5.5 logits, so the first tokens take a large share of every row (seed 000
//                §5: most attention on the first tokens; 40–50% of a row here).
//   dims 1..8    four rotary-like planes: query i and key j carry (cos ωi, sin ωi) and
//                (cos ωj, sin ωj), whose product is cos(ω(i−j)) — exactly what RoPE does to a
//                constant vector. Summed over the frequencies it peaks at i = j (2.5 logits)
//                and falls off within a few tokens: the local band ("some on the recent ones").
//   dims 9..13   task channels (below): which spans a row looks for.
//   dims 14..    Gaussian noise, 0.5 logits standard deviation, so rows are not degenerate and
//                the middle gets the "little" attention real models give it.
//
// Per task (the LongBench category imitated in parentheses). "Window rows" are the last
// min(64, n/4) prompt positions (the question and instruction, where SnapKV/CircuitKV observe);
// "answer queries" are q_answer. Strengths are in logits, before a per-head factor 0.75–1.25.
//   synth-singledoc (single-doc QA): one evidence span of 16–24 tokens; window rows seek it
//       with 3 logits, answer queries with 4; two distractor spans share the topic at half
//       amplitude, so "attended" and "evidence" are not the same set.
//   synth-multihop (multi-doc QA): a bridge span B (6–10 tokens, at 50–75% of the prompt) after
//       the evidence span E (12–20 tokens, at 10–40%). Window rows seek B (5.5) but not E;
//       B's own rows seek E (6); answer queries seek B (5.5) and E (3). Column sums of the
//       window barely see E, while a two-hop walk window → B → E reaches it — the
//       hotpotqa/musique pattern CircuitKV is built for.
//   synth-summary (summarization): sink ×0.6, band ×0.5, noise 0.3 (small-norm queries), so
//       attention is near uniform; the evidence is five spread spans that window and answer
//       queries prefer only mildly (1.5 and 2).
//   synth-fewshot (few-shot): the context is a run of template blocks (24–40 tokens each). Block
//       tokens carry the phase φ of their position in the block on two planes (harmonics 1 and
//       5, which together resolve the position to about one token) and rows seek the same
//       phase with 2 per plane, so blocks attend to each other position by position (trec-like
//       examples); the window continues the template. One block matches the question: window
//       rows seek it with 3, answer queries with 5 (plus the label phase); it is the evidence.
//   synth-needle (synthetic / passage retrieval): one 8–12 token needle; answer queries seek it
//       with 8 (they copy from it), window rows with 3.5.
//   synth-code (code): band ×2.2, plus a line-periodic plane (8–16 token lines; rows look at
//       the same column of earlier lines with 1); the evidence is a definition span that
//       window rows (3.5) and answer queries (4.5) look up.
// Values are standard Gaussian, with the sinks' values scaled by 0.1: sinks absorb attention
// without contributing to the output, as observed in real models.
//
// Determinism: std::mt19937_64 (its output sequence is fixed by the standard) seeded from
// (seed, task, sample index) and, per layer, (sample seed, layer); uniforms, integers and
// normals (Box–Muller) are derived here, because the standard library's distributions are
// implementation-defined. Layers share the sample's plan (spans, lengths) and differ in their
// random draws (noise, per-head strengths).
#include "cache/synthetic.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>

#include "cache/cache_index.hpp"
#include "cache/sample_cache.hpp"
#include "common/error.hpp"
#include "common/tasks.hpp"

namespace ckv {

namespace {

constexpr int kSinks = 4;
constexpr int kBandPlanes = 4;
constexpr int kTaskDims = 5;
constexpr int kSinkDim = 0;
constexpr int kBandDim = 1;
constexpr int kTaskDim = kBandDim + 2 * kBandPlanes;
constexpr int kNoiseDim = kTaskDim + kTaskDims;
constexpr int kMinNoiseDims = 4;
constexpr int kMinHeadDim = kNoiseDim + kMinNoiseDims;
constexpr int kMinTokens = 256;
constexpr double kPi = 3.14159265358979323846;

// Band frequencies and weights: fast planes for the immediate neighbours, slower ones for a
// recency gradient over tens of tokens; peak 2.5 logits at distance 0. With P band dimensions a
// far token's band logit fluctuates by about peak/sqrt(P) (here ±0.9): the sidelobes of a few
// cosines never decay (RoPE has 64 planes to average them out), so the peak is kept moderate;
// a stronger band would mostly add heavy-tailed noise on far tokens.
constexpr std::array<double, kBandPlanes> kBandOmega = {0.6, 0.25, 0.1, 0.04};
constexpr std::array<double, kBandPlanes> kBandWeight = {0.8, 0.7, 0.55, 0.45};
constexpr std::array<double, kSinks> kSinkAmplitude = {1.0, 0.9, 0.85, 0.8};

uint64_t mix64(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
  return hash;
}

class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}
  double uniform() { return double(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int integer(int lo, int hi) {  // inclusive; bias of at most 2^-53, irrelevant here
    return lo + std::min(hi - lo, int(uniform() * double(hi - lo + 1)));
  }
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    spare_ = radius * std::sin(2.0 * kPi * u2);
    has_spare_ = true;
    return radius * std::cos(2.0 * kPi * u2);
  }

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

struct Span {
  int begin = 0, end = 0;
  bool contains(int i) const { return i >= begin && i < end; }
};

using TaskVector = std::array<float, kTaskDims>;

// Everything about a sample that all its layers share.
struct SamplePlan {
  int n = 0, m = 0, window = 0;
  Span question;
  std::vector<Span> evidence;
  std::vector<TaskVector> key_task;     // [n] amplitudes
  std::vector<TaskVector> query_task;   // [n] strengths (logits)
  std::vector<TaskVector> answer_task;  // [m] strengths (logits)
  double sink_scale = 1.0, band_scale = 1.0, noise_logit = 0.5;
  std::string answer;
  std::map<std::string, std::vector<Span>> planted;  // recorded as metadata 'planted'
};

Span place(Random& random, int n, int length, double lo, double hi) {
  const int first = int(lo * n);
  const int last = std::max(first, int(hi * n) - length);
  const int begin = random.integer(first, last);
  return {begin, begin + length};
}

void set_phase(TaskVector& v, int channel, double phase, double scale) {
  v[channel] = float(scale * std::cos(phase));
  v[channel + 1] = float(scale * std::sin(phase));
}

SamplePlan make_plan(const std::string& task, Random& random, const SynthOptions& options) {
  SamplePlan plan;
  const int spread = options.tokens / 8;  // ±12.5%
  plan.n = options.tokens + random.integer(-spread, spread);
  plan.m = options.answer_tokens;
  const int n = plan.n;
  plan.window = std::min(64, n / 4);
  const int question_length = random.integer(16, 32);
  plan.question = {n - question_length, n};
  plan.key_task.assign(n, TaskVector{});
  plan.query_task.assign(n, TaskVector{});
  plan.answer_task.assign(plan.m, TaskVector{});
  const int window_begin = n - plan.window;
  auto window_rows = [&](int channel, float strength) {
    for (int i = window_begin; i < n; ++i) plan.query_task[i][channel] = strength;
  };
  auto answer_rows = [&](int channel, float strength) {
    for (auto& row : plan.answer_task) row[channel] = strength;
  };
  auto mark_keys = [&](Span span, int channel, float amplitude) {
    for (int j = span.begin; j < span.end; ++j) plan.key_task[j][channel] = amplitude;
  };

  if (task == "synth-singledoc") {
    const Span evidence = place(random, n, random.integer(16, 24), 0.1, 0.7);
    plan.evidence = {evidence};
    mark_keys(evidence, 0, 1.0f);
    // Distractors on the same topic: attended, but weaker, and not where the answer is.
    for (int k = 0; k < 2; ++k) {
      const Span distractor = place(random, n, random.integer(8, 16), 0.05, 0.85);
      for (int j = distractor.begin; j < distractor.end; ++j)
        if (!evidence.contains(j)) plan.key_task[j][0] = 0.5f;
    }
    window_rows(0, 3.0f);
    answer_rows(0, 4.0f);
    plan.answer = fmt::format("synthetic answer in tokens [{}, {})", evidence.begin, evidence.end);
  } else if (task == "synth-multihop") {
    const Span evidence = place(random, n, random.integer(12, 20), 0.1, 0.4);
    const Span bridge = place(random, n, random.integer(6, 10), 0.5, 0.75);
    plan.evidence = {evidence};
    plan.planted["bridge"] = {bridge};
    mark_keys(bridge, 0, 1.0f);
    mark_keys(evidence, 1, 1.0f);
    window_rows(0, 5.5f);
    for (int i = bridge.begin; i < bridge.end; ++i) plan.query_task[i][1] = 6.0f;
    answer_rows(0, 5.5f);
    answer_rows(1, 3.0f);
    plan.answer = fmt::format("synthetic answer in tokens [{}, {}) via bridge [{}, {})",
                              evidence.begin, evidence.end, bridge.begin, bridge.end);
  } else if (task == "synth-summary") {
    plan.sink_scale = 0.6;
    plan.band_scale = 0.5;
    plan.noise_logit = 0.3;
    const int spans = 5;
    const double lo = 0.05, hi = 0.9, step = (hi - lo) / spans;
    for (int k = 0; k < spans; ++k) {
      const Span span = place(random, n, random.integer(10, 16), lo + k * step, lo + (k + 1) * step);
      plan.evidence.push_back(span);
      mark_keys(span, 0, 1.0f);
    }
    window_rows(0, 1.5f);
    answer_rows(0, 2.0f);
    plan.answer = "synthetic summary of five spread spans";
  } else if (task == "synth-fewshot") {
    const int block = random.integer(24, 40);
    const int region_begin = 8;
    const int blocks = (window_begin - 16 - region_begin) / block;
    const int match = random.integer(0, blocks - 2);
    auto phase = [&](int i) { return 2.0 * kPi * double((i - region_begin) % block) / block; };
    for (int b = 0; b < blocks; ++b)
      for (int j = region_begin + b * block; j < region_begin + (b + 1) * block; ++j) {
        set_phase(plan.key_task[j], 1, phase(j), 1.0);
        set_phase(plan.key_task[j], 3, 5.0 * phase(j), 1.0);
        set_phase(plan.query_task[j], 1, phase(j), 2.0);
        set_phase(plan.query_task[j], 3, 5.0 * phase(j), 2.0);
      }
    // The question is one more instance of the template: the window rows continue the phase.
    for (int i = window_begin; i < n; ++i) {
      set_phase(plan.query_task[i], 1, phase(i), 2.0);
      set_phase(plan.query_task[i], 3, 5.0 * phase(i), 2.0);
    }
    const Span evidence{region_begin + match * block, region_begin + (match + 1) * block};
    plan.evidence = {evidence};
    mark_keys(evidence, 0, 1.0f);
    window_rows(0, 3.0f);
    // The answer is the label, the last tokens of a block: answer queries seek that phase.
    const double label_phase = 2.0 * kPi * double(block - 2) / block;
    for (auto& row : plan.answer_task) {
      set_phase(row, 1, label_phase, 2.0);
      set_phase(row, 3, 5.0 * label_phase, 2.0);
    }
    answer_rows(0, 5.0f);
    plan.answer = fmt::format("class-{}", match % 6);
  } else if (task == "synth-needle") {
    const Span needle = place(random, n, random.integer(8, 12), 0.05, 0.85);
    plan.evidence = {needle};
    mark_keys(needle, 0, 1.0f);
    window_rows(0, 3.5f);
    answer_rows(0, 8.0f);
    plan.answer = fmt::format("Paragraph {}", 1 + needle.begin * 30 / n);
  } else if (task == "synth-code") {
    plan.band_scale = 2.2;
    const int line = random.integer(8, 16);
    for (int j = 0; j < n; ++j) {
      const double phase = 2.0 * kPi * double(j % line) / line;
      set_phase(plan.key_task[j], 1, phase, 1.0);
      set_phase(plan.query_task[j], 1, phase, 1.0);
    }
    const Span definition = place(random, n, random.integer(16, 28), 0.1, 0.7);
    plan.evidence = {definition};
    mark_keys(definition, 0, 1.0f);
    window_rows(0, 3.5f);
    answer_rows(0, 4.5f);
    for (int t = 0; t < plan.m; ++t) set_phase(plan.answer_task[t], 1, 2.0 * kPi * double((n + t) % line) / line, 1.0);
    plan.answer = fmt::format("synthetic completion using the definition at tokens [{}, {})",
                              definition.begin, definition.end);
  } else {
    CKV_FAIL("synthetic generator: unknown task '{}'", task);
  }
  return plan;
}

// One layer's tensors from the plan, with this layer's own random draws.
LayerTensors make_layer(const SamplePlan& plan, const SynthOptions& options, int layer,
                        uint64_t layer_seed, const std::string& sample) {
  Random random(layer_seed);
  LayerTensors t;
  t.H = options.heads;
  t.G = options.kv_heads;
  t.d = options.head_dim;
  t.n = plan.n;
  t.m = plan.m;
  t.r = options.query_rows == 0 ? plan.n : options.query_rows;
  t.layer = layer;
  t.num_layers_model = options.num_layers_model;
  t.sample = sample;
  const int d = t.d, n = t.n, m = t.m;
  const int noise_dims = d - kNoiseDim;
  const double unit = std::pow(double(d), 0.25);  // q·k/√d = product of logit-unit amplitudes
  const double noise_std = std::sqrt(plan.noise_logit / std::sqrt(double(noise_dims))) * unit;

  struct HeadDraw {
    double sink, band, task;
  };
  std::vector<HeadDraw> heads(t.H);
  for (auto& head : heads) {
    head.sink = random.uniform(4.5, 5.5) * plan.sink_scale;
    head.band = random.uniform(0.7, 1.3) * plan.band_scale;
    head.task = random.uniform(0.75, 1.25);
  }

  // Positional planes of position `pos`, times sqrt(weight) so that q·k gives weight·cos.
  auto write_band = [&](float* vec, int pos, double scale) {
    for (int p = 0; p < kBandPlanes; ++p) {
      const double a = std::sqrt(kBandWeight[p]) * scale * unit;
      vec[kBandDim + 2 * p] = float(a * std::cos(kBandOmega[p] * pos));
      vec[kBandDim + 2 * p + 1] = float(a * std::sin(kBandOmega[p] * pos));
    }
  };
  auto write_task = [&](float* vec, const TaskVector& task, double scale) {
    for (int c = 0; c < kTaskDims; ++c) vec[kTaskDim + c] = float(task[c] * scale * unit);
  };
  auto write_noise = [&](float* vec) {
    for (int c = kNoiseDim; c < d; ++c) vec[c] = float(noise_std * random.normal());
  };
  auto write_key = [&](float* vec, int pos, const TaskVector* task) {
    std::fill(vec, vec + d, 0.0f);
    if (pos < kSinks) vec[kSinkDim] = float(kSinkAmplitude[pos] * unit);
    write_band(vec, pos, 1.0);
    if (task != nullptr) write_task(vec, *task, 1.0);
    write_noise(vec);
  };
  auto write_query = [&](float* vec, int pos, const HeadDraw& head, const TaskVector& task) {
    std::fill(vec, vec + d, 0.0f);
    vec[kSinkDim] = float(head.sink * unit);
    write_band(vec, pos, head.band);  // the head's band strength rides on the query only
    write_task(vec, task, head.task);
    write_noise(vec);
  };
  auto write_value = [&](float* vec, int pos) {
    const double scale = pos < kSinks ? 0.1 : 1.0;
    for (int c = 0; c < d; ++c) vec[c] = float(scale * random.normal());
  };

  t.k.assign(size_t(t.G) * n * d, 0.0f);
  t.v.assign(size_t(t.G) * n * d, 0.0f);
  t.k_answer.assign(size_t(t.G) * m * d, 0.0f);
  t.v_answer.assign(size_t(t.G) * m * d, 0.0f);
  for (int g = 0; g < t.G; ++g) {
    for (int j = 0; j < n; ++j) {
      write_key(&t.k[(size_t(g) * n + j) * d], j, &plan.key_task[j]);
      write_value(&t.v[(size_t(g) * n + j) * d], j);
    }
    for (int a = 0; a < m; ++a) {
      write_key(&t.k_answer[(size_t(g) * m + a) * d], n + a, nullptr);
      write_value(&t.v_answer[(size_t(g) * m + a) * d], n + a);
    }
  }
  t.q.assign(size_t(t.H) * t.r * d, 0.0f);
  t.q_answer.assign(size_t(t.H) * m * d, 0.0f);
  for (int h = 0; h < t.H; ++h) {
    for (int row = 0; row < t.r; ++row) {
      const int pos = n - t.r + row;
      write_query(&t.q[(size_t(h) * t.r + row) * d], pos, heads[h], plan.query_task[pos]);
    }
    for (int a = 0; a < m; ++a)
      write_query(&t.q_answer[(size_t(h) * m + a) * d], n + a, heads[h], plan.answer_task[a]);
  }
  return t;
}

void check_options(const SynthOptions& o, const std::vector<std::string>& tasks) {
  CKV_CHECK(!o.out_dir.empty(), "synthetic generator: no output directory given");
  CKV_CHECK(o.samples_per_task >= 1, "synthetic generator: samples_per_task = {} must be >= 1",
            o.samples_per_task);
  CKV_CHECK(o.tokens >= kMinTokens, "synthetic generator: tokens = {} is below the minimum {}",
            o.tokens, kMinTokens);
  CKV_CHECK(o.heads >= 1 && o.kv_heads >= 1 && o.heads % o.kv_heads == 0,
            "synthetic generator: heads = {} must be a positive multiple of kv_heads = {}", o.heads,
            o.kv_heads);
  CKV_CHECK(o.head_dim >= kMinHeadDim,
            "synthetic generator: head_dim = {} is below the minimum {} (sink, band, task and "
            "noise components need their own dimensions)",
            o.head_dim, kMinHeadDim);
  CKV_CHECK(o.answer_tokens >= 1, "synthetic generator: answer_tokens = {} must be >= 1",
            o.answer_tokens);
  CKV_CHECK(!o.layers.empty(), "synthetic generator: no layers given");
  std::set<int> seen;
  for (int layer : o.layers) {
    CKV_CHECK(layer >= 0 && layer < o.num_layers_model,
              "synthetic generator: layer {} is outside [0, num_layers_model = {})", layer,
              o.num_layers_model);
    CKV_CHECK(seen.insert(layer).second, "synthetic generator: layer {} listed twice", layer);
  }
  const int shortest = o.tokens - o.tokens / 8;
  CKV_CHECK(o.query_rows >= 0 && o.query_rows <= shortest,
            "synthetic generator: query_rows = {} must be 0 (full capture) or at most the "
            "shortest prompt ({} tokens)",
            o.query_rows, shortest);
  const auto known = synthetic_task_names();
  for (const std::string& task : tasks)
    CKV_CHECK(std::find(known.begin(), known.end(), task) != known.end(),
              "synthetic generator: unknown task '{}' (synthetic tasks: {})", task,
              fmt::join(known, ", "));
}

}  // namespace

// Made-up prompt text for synthetic caches: "<s>", then sentences of words (some split into a
// word and sub-word pieces), numbers, commas and full stops, a newline after some sentences.
static std::vector<TokenText> made_up_token_texts(int n, uint64_t seed) {
  static const char* const kWords[] = {"river", "stone", "garden", "paper", "silver", "bridge", "market",
                                       "tower", "Alice", "Bruno", "Paris", "Lisbon", "the", "of", "was",
                                       "built", "wrote", "in", "and", "a"};
  static const char* const kPieces[] = {"ing", "ed", "er", "s", "ly", "ation"};
  std::mt19937_64 engine(seed);
  auto below = [&](uint64_t k) { return int(engine() % k); };
  std::vector<TokenText> texts;
  texts.push_back({TokenText::Kind::kSpecial, "<s>"});
  int in_sentence = 0;
  while (int(texts.size()) < n) {
    const int r = below(100);
    if (in_sentence > 4 && r < 12) {
      texts.push_back({TokenText::Kind::kText, "."});
      if (below(3) == 0 && int(texts.size()) < n) texts.push_back({TokenText::Kind::kText, "\n"});
      in_sentence = 0;
    } else if (in_sentence > 1 && r < 20) {
      texts.push_back({TokenText::Kind::kText, ","});
    } else if (r < 28) {
      texts.push_back({TokenText::Kind::kText, fmt::format(" {}", 1 + below(2024))});
      ++in_sentence;
    } else {
      const char* word = kWords[below(std::size(kWords))];
      texts.push_back({TokenText::Kind::kText, fmt::format("{}{}", in_sentence == 0 && texts.size() > 1 && texts.back().text == "\n" ? "" : " ", word)});
      if (below(4) == 0 && int(texts.size()) < n)
        texts.push_back({TokenText::Kind::kText, kPieces[below(std::size(kPieces))]});
      ++in_sentence;
    }
  }
  texts.resize(size_t(n));
  return texts;
}

int generate_synthetic_cache(const SynthOptions& options) {
  const std::vector<std::string> tasks = options.tasks.empty() ? synthetic_task_names() : options.tasks;
  check_options(options, tasks);
  namespace fs = std::filesystem;
  std::vector<IndexEntry> index;
  for (const std::string& task : tasks) {
    const fs::path task_dir = fs::path(options.out_dir) / task;
    std::error_code ec;
    fs::create_directories(task_dir, ec);
    if (ec) CKV_FAIL("{}: cannot create directory: {}", task_dir.string(), ec.message());
    for (int k = 0; k < options.samples_per_task; ++k) {
      const uint64_t sample_seed = mix64(mix64(mix64(options.seed) ^ fnv1a(task)) ^ uint64_t(k));
      Random random(sample_seed);
      const SamplePlan plan = make_plan(task, random, options);

      SampleMeta meta;
      meta.task = task;
      meta.id = fmt::format("{}-{}", task, k);
      meta.model = "synthetic";
      meta.n_tokens = plan.n;
      meta.m_answer = plan.m;
      meta.layers = options.layers;
      meta.num_layers_model = options.num_layers_model;
      meta.answers = json::array({plan.answer});
      for (const Span& span : plan.evidence) meta.evidence.emplace_back(span.begin, span.end);
      meta.question_span = {plan.question.begin, plan.question.end};
      meta.answer_source = "gold";
      meta.capture_version = "synthetic/1";
      for (const auto& [name, spans] : plan.planted)
        for (const Span& span : spans) meta.planted[name].emplace_back(span.begin, span.end);

      if (options.token_texts) {
        meta.token_texts = made_up_token_texts(plan.n, mix64(sample_seed ^ 0x746f6b656e73ull));
        meta.token_text_method = "synthetic";
      }

      std::vector<SampleWriteLayer> layers;
      for (int layer : options.layers) {
        const uint64_t layer_seed = mix64(sample_seed ^ (0x9e3779b97f4a7c15ull * uint64_t(layer + 1)));
        layers.push_back({layer, make_layer(plan, options, layer, layer_seed, task + "/" + meta.id)});
      }
      const std::string relative = fmt::format("{}/{}.safetensors", task, meta.id);
      const std::string path = (fs::path(options.out_dir) / relative).string();
      write_sample(path, meta, layers, options.dtype);
      index.push_back({meta.id, task, relative, plan.n, plan.m, options.layers,
                       static_cast<long long>(fs::file_size(path))});
    }
  }
  write_cache_index(options.out_dir, index);
  return int(index.size());
}

}  // namespace ckv
