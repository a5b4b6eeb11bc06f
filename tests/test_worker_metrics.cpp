// Proxy metrics (docs/spec/METRICS.md) on a layer small enough to compute by hand. Keys are chosen so
// the logits are logarithms: with d = 2 and q = (1, 0), K[j] = √2 (ln c_j, 0) gives
// q·K[j]/√d = ln c_j, hence a_t ∝ c.
#include <catch2/catch.hpp>

#include <cmath>

#include "worker/metrics.hpp"

using namespace ckv;

namespace {

struct Layer {
  std::vector<float> q_ans, k, v, k_ans, v_ans;
  LayerInput input;
};

float log_key(double c) { return float(std::sqrt(2.0) * std::log(c)); }

// n = 4, m = 2, H = 1, G = 1, d = 2. Prompt weights c = 1, 2, 3, 2; answer key 0 weight 2,
// answer key 1 weight 5 (visible to answer token 1 only). Answer token 0 queries (1, 0);
// answer token 1 queries (0, 0): uniform over its 6 keys.
Layer hand_layer() {
  Layer l;
  l.k = {log_key(1), 0, log_key(2), 0, log_key(3), 0, log_key(2), 0};
  l.v = {1, 0, 0, 1, 1, 1, 0, 0};
  l.k_ans = {log_key(2), 0, log_key(5), 0};
  l.v_ans = {2, 0, 0, 2};
  l.q_ans = {1, 0, 0, 0};
  LayerInput& in = l.input;
  in.H = 1;
  in.G = 1;
  in.d = 2;
  in.n = 4;
  in.r = 0;
  in.m = 2;
  in.k = l.k.data();
  in.v = l.v.data();
  in.q_answer = l.q_ans.data();
  in.k_answer = l.k_ans.data();
  in.v_answer = l.v_ans.data();
  in.sample = "test/hand";
  return l;
}


// A layer of n = 4 prompt and m = 1 answer tokens, d = 2, over caller-owned vectors.
LayerInput small_input(int H, int G, std::vector<float>& k, std::vector<float>& v,
                       std::vector<float>& k_ans, std::vector<float>& v_ans,
                       std::vector<float>& q_ans, const char* sample) {
  LayerInput in;
  in.H = H;
  in.G = G;
  in.d = 2;
  in.n = 4;
  in.m = 1;
  in.k = k.data();
  in.v = v.data();
  in.q_answer = q_ans.data();
  in.k_answer = k_ans.data();
  in.v_answer = v_ans.data();
  in.sample = sample;
  return in;
}

}  // namespace

TEST_CASE("metrics of a hand-computed layer") {
  Layer l = hand_layer();
  MetricAccumulator acc;
  // S = {0, 2}; evidence [1, 3) = {1, 2}; top-2.
  acc.add_layer(l.input, {{0, 2}}, {{1, 3}}, 2);
  auto m = acc.finish();
  // Token 0: a = (1, 2, 3, 2 | 2)/10. attn_recall = (0.1 + 0.3)/0.8 = 0.5.
  //   o = 0.1(1,0) + 0.2(0,1) + 0.3(1,1) + 0.2(2,0) = (0.8, 0.5);
  //   o_S = (0.1(1,0) + 0.3(1,1) + 0.2(2,0))/0.6 = (4/3, 1/2); error = (8/15)/√0.89.
  //   top-2 prompt keys: 2 (0.3), then 1 (0.2, ties with 3, lower position): 1 of 2 in S.
  // Token 1: a = 1/6 on all six keys. attn_recall = 2/4.
  //   o = ((1,0)+(0,1)+(1,1)+(0,0)+(2,0)+(0,2))/6 = (2/3, 2/3);
  //   o_S = ((1,0)+(1,1)+(2,0)+(0,2))/4 = (1, 3/4); error = (√17/12)/(2√2/3) = √34/16.
  //   top-2: all tie, positions 0 and 1: 1 of 2 in S.
  const double e0 = (8.0 / 15.0) / std::sqrt(0.89), e1 = std::sqrt(34.0) / 16.0;
  REQUIRE(m.at("attn_recall").has_value());
  CHECK(*m.at("attn_recall") == Approx(0.5));
  CHECK(*m.at("output_error") == Approx((e0 + e1) / 2));
  CHECK(*m.at("topk_recall") == Approx(0.5));
  CHECK(*m.at("evidence_recall") == Approx(0.5));
  CHECK(*m.at("evidence_recall_min") == Approx(0.5));
  CHECK(*m.at("kept") == Approx(2.0));
  CHECK(acc.answer_terms == 2);
}

TEST_CASE("keeping everything gives attn_recall 1, output_error 0, topk_recall 1") {
  Layer l = hand_layer();
  MetricAccumulator acc;
  acc.add_layer(l.input, {{0, 1, 2, 3}}, {{0, 4}}, 32);  // topk 32 > n: k = n
  auto m = acc.finish();
  CHECK(*m.at("attn_recall") == Approx(1.0));
  CHECK(*m.at("output_error") == Approx(0.0).margin(1e-12));
  CHECK(*m.at("topk_recall") == Approx(1.0));
  CHECK(*m.at("evidence_recall") == Approx(1.0));
  CHECK(*m.at("kept") == Approx(4.0));
}

TEST_CASE("undefined metrics are NULL, never 0") {
  Layer l = hand_layer();
  l.input.m = 0;
  MetricAccumulator acc;
  acc.add_layer(l.input, {{0, 3}}, {}, 2);
  auto m = acc.finish();
  CHECK_FALSE(m.at("attn_recall").has_value());
  CHECK_FALSE(m.at("output_error").has_value());
  CHECK_FALSE(m.at("topk_recall").has_value());
  CHECK_FALSE(m.at("evidence_recall").has_value());
  CHECK_FALSE(m.at("evidence_recall_min").has_value());
  REQUIRE(m.at("kept").has_value());
  CHECK(*m.at("kept") == Approx(2.0));
  // An evidence range wholly outside the prompt is empty too.
  MetricAccumulator outside;
  outside.add_layer(l.input, {{0, 3}}, {{10, 12}}, 2);
  CHECK_FALSE(outside.finish().at("evidence_recall").has_value());
  // Nothing added at all: everything NULL.
  auto none = MetricAccumulator{}.finish();
  for (const char* key : {"attn_recall", "output_error", "topk_recall", "evidence_recall",
                          "evidence_recall_min", "kept"})
    CHECK_FALSE(none.at(key).has_value());
}

TEST_CASE("GQA: each query head uses its KV head's keys and keep-set; evidence min over heads") {
  // H = 2, G = 2 (one query head per KV head), n = 4, m = 1. KV head 0 is the hand layer's
  // first answer token (a = (1,2,3,2 | 2)/10); KV head 1 has all keys equal (uniform 1/5).
  std::vector<float> k = {log_key(1), 0, log_key(2), 0, log_key(3), 0, log_key(2), 0,  //
                          0, 0, 0, 0, 0, 0, 0, 0};
  std::vector<float> v = {1, 0, 0, 1, 1, 1, 0, 0,  //
                          1, 0, 1, 0, 1, 0, 1, 0};
  std::vector<float> k_ans = {log_key(2), 0, 0, 0};
  std::vector<float> v_ans = {2, 0, 1, 0};
  std::vector<float> q_ans = {1, 0, 1, 0};
  const LayerInput in = small_input(2, 2, k, v, k_ans, v_ans, q_ans, "test/gqa");
  MetricAccumulator acc;
  // KV head 0 keeps {0, 2}; KV head 1 keeps {1, 2, 3}. Evidence {1, 2}: recalls 1/2 and 1.
  acc.add_layer(in, {{0, 2}, {1, 2, 3}}, {{1, 3}}, 2);
  auto m = acc.finish();
  // Head 0: recall 0.5 (above). Head 1: 3/4 of the uniform prompt mass.
  CHECK(*m.at("attn_recall") == Approx((0.5 + 0.75) / 2));
  // Head 1's values are all (1, 0): o = o_S, error 0.
  CHECK(*m.at("output_error") == Approx((8.0 / 15.0) / std::sqrt(0.89) / 2));
  // Head 1 top-2 (all tie): positions 0, 1 -> 1 of 2 kept.
  CHECK(*m.at("topk_recall") == Approx(0.5));
  CHECK(*m.at("evidence_recall") == Approx(0.75));
  CHECK(*m.at("evidence_recall_min") == Approx(0.5));
  CHECK(*m.at("kept") == Approx(2.5));
  // A second layer lowers the minimum and enters the means.
  acc.add_layer(in, {{0, 3}, {0, 1}}, {{1, 3}}, 2);
  auto m2 = acc.finish();
  CHECK(*m2.at("evidence_recall_min") == Approx(0.0));
  CHECK(*m2.at("evidence_recall") == Approx((0.5 + 1.0 + 0.0 + 0.5) / 4));
  CHECK(*m2.at("kept") == Approx((2 + 3 + 2 + 2) / 4.0));
}

TEST_CASE("a keep-set that does not match the layer is an error naming the sample") {
  Layer l = hand_layer();
  MetricAccumulator acc;
  CHECK_THROWS_WITH(acc.add_layer(l.input, {{0, 9}}, {}, 2), Catch::Contains("test/hand"));
  CHECK_THROWS_AS(acc.add_layer(l.input, {{0}, {1}}, {}, 2), ckv::Error);
}

TEST_CASE("per_query_head: each query head reads its own keep-set (H sets for G KV heads)") {
  // H = 2 query heads sharing G = 1 KV head (the hand layer's keys), m = 1. Head 0 queries
  // (1, 0): a = (1,2,3,2 | 2)/10; head 1 queries (0, 0): uniform 1/5 over the 5 keys.
  std::vector<float> k = {log_key(1), 0, log_key(2), 0, log_key(3), 0, log_key(2), 0};
  std::vector<float> v = {1, 0, 0, 1, 1, 1, 0, 0};
  std::vector<float> k_ans = {log_key(2), 0};
  std::vector<float> v_ans = {2, 0};
  std::vector<float> q_ans = {1, 0, 0, 0};
  const LayerInput in = small_input(2, 1, k, v, k_ans, v_ans, q_ans, "test/per_query_head");
  MetricAccumulator own;
  // Head 0 keeps {0, 2} (recall 4/8), head 1 keeps {1, 2, 3} (recall 3/4). Evidence {1, 2}.
  own.add_layer(in, {{0, 2}, {1, 2, 3}}, {{1, 3}}, 2);
  auto m = own.finish();
  CHECK(*m.at("attn_recall") == Approx((0.5 + 0.75) / 2));
  CHECK(*m.at("evidence_recall") == Approx(0.75));
  CHECK(*m.at("evidence_recall_min") == Approx(0.5));
  CHECK(*m.at("kept") == Approx(2.5));
  // One set for the KV head ({0, 2} for both query heads) is a different measurement.
  MetricAccumulator shared;
  shared.add_layer(in, {{0, 2}}, {{1, 3}}, 2);
  CHECK(*shared.finish().at("attn_recall") == Approx((0.5 + 0.5) / 2));
  CHECK_THROWS_WITH(own.add_layer(in, {{0}, {1}, {2}}, {}, 2), Catch::Contains("test/per_query_head"));
}
