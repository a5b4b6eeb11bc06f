// `compare-e2e`'s computation (e2e/rank_comparison.hpp): ranks follow each metric's direction, so
// a proxy that orders the configurations exactly as the end-to-end scores do correlates +1
// whether higher or lower is better; labels tell two budgets of one method apart; the bootstrap
// CIs of a perfect proxy collapse on +1; a proxy of unknown direction is refused.
#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "e2e/rank_comparison.hpp"

using namespace ckv;
using namespace ckv::e2e;

namespace {

// Four snapkv budgets; end to end the larger budget is better on every sample of both tasks;
// the proxy follows `proxy(budget index, sample)`.
std::vector<RankInputConfiguration> configurations(double (*proxy)(int, int)) {
  std::vector<RankInputConfiguration> out;
  const int budgets[] = {128, 256, 512, 1024};
  for (int b = 0; b < 4; ++b) {
    RankInputConfiguration c;
    json doc = {{"method", "snapkv"}, {"params", {{"budget", budgets[b]}, {"window", 32}}}, {"eval", {{"topk", 32}}}};
    c.configuration = {std::string(64, char('a' + b)), "snapkv", doc};
    for (const std::string task : {"hotpotqa", "trec"}) {
      double e2e_sum = 0, proxy_sum = 0;
      for (int s = 0; s < 6; ++s) {
        const std::string key = task + std::to_string(s);
        const double score = 0.1 * b + 0.02 * s;  // in [0, 1], increasing with the budget
        c.e2e_samples[task][key] = score;
        c.proxy_samples[task][key] = proxy(b, s);
        e2e_sum += score;
        proxy_sum += proxy(b, s);
      }
      c.e2e_task[task] = 100 * e2e_sum / 6;
      c.proxy_task[task] = proxy_sum / 6;
    }
    out.push_back(c);
  }
  return out;
}

double recall_follows(int b, int s) { return 0.5 + 0.1 * b + 0.01 * s; }  // higher is better
double error_follows(int b, int s) { return 0.5 - 0.1 * b + 0.01 * s; }   // lower is better
double error_reversed(int b, int s) { return 0.1 + 0.1 * b + 0.01 * s; }  // wrong way round

void check_perfect(const RankComparison& c) {
  for (const Agreement* a : {&c.overall, &c.per_task[0], &c.per_task[1]}) {
    INFO(a->task);
    CHECK(*a->spearman.value == Approx(1.0));
    CHECK(*a->kendall.value == Approx(1.0));
    CHECK(*a->pairwise == 1.0);
    // Every resample keeps the order: the CI is the point.
    REQUIRE(a->spearman.ci);
    CHECK(a->spearman.ci->lo == Approx(1.0));
    CHECK(a->kendall.ci->hi == Approx(1.0));
    CHECK(a->configurations == 4);
  }
  // Rows by end-to-end rank; the proxy's rank 1 is its best value in its own direction.
  REQUIRE(c.rows.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(c.rows[i].e2e_rank == double(i + 1));
    CHECK(*c.rows[i].proxy_rank == double(i + 1));
  }
  CHECK(c.rows[0].label == "snapkv budget=1024");
  CHECK(c.rows[3].label == "snapkv budget=128");
}

}  // namespace

TEST_CASE("a proxy that predicts the end-to-end order gives +1 for higher- and lower-better metrics", "[e2e]") {
  const RankComparison recall = rank_comparison("c", "attn_recall", configurations(recall_follows));
  CHECK(recall.proxy_direction == Direction::higher_better);
  check_perfect(recall);
  const RankComparison error = rank_comparison("c", "output_error", configurations(error_follows));
  CHECK(error.proxy_direction == Direction::lower_better);
  check_perfect(error);
  // The lowest output error is rank 1.
  CHECK(*error.rows[0].proxy_mean < *error.rows[3].proxy_mean);

  // An output_error that grows with the end-to-end score orders them backwards: −1.
  const RankComparison reversed = rank_comparison("c", "output_error", configurations(error_reversed));
  CHECK(*reversed.overall.spearman.value == Approx(-1.0));
  CHECK(*reversed.overall.kendall.value == Approx(-1.0));
  CHECK(*reversed.overall.pairwise == 0.0);
  CHECK(*reversed.spearman == *reversed.overall.spearman.value);
  CHECK(*reversed.rows[0].proxy_rank == 4.0);

  const json doc = json::parse(rank_comparison_json(error));
  CHECK(doc["proxy_direction"] == "lower is better");
  CHECK(doc["rows"][0]["label"] == "snapkv budget=1024");
  CHECK(doc["rows"][0]["proxy_rank"] == 1.0);
  CHECK(doc["overall"]["spearman"]["value"].get<double>() == Approx(1.0));
  CHECK(doc["overall"]["kendall_tau_b"]["ci"][0].get<double>() == Approx(1.0));
  CHECK(doc["per_task"].size() == 2);
  CHECK(doc["per_task"][1]["task"] == "trec");
  CHECK(doc["overall"]["pairwise_agreement"] == 1.0);

  const std::string text = render_rank_comparison(error);
  CHECK(text.find("| snapkv budget=1024 | dddddddddddd | 35.00 | 1 | 0.2250 | 1 |") != std::string::npos);
  CHECK(text.find("output_error (lower is better)") != std::string::npos);
  CHECK(text.find("| overall | 4 | 12 | 12 | +1.000 [+1.000, +1.000] | +1.000 [+1.000, +1.000] | 1.000 |") !=
        std::string::npos);
}

TEST_CASE("compare-e2e refuses a proxy whose direction is unknown", "[e2e]") {
  CHECK_THROWS_WITH(rank_comparison("c", "nonsense", configurations(recall_follows)),
                    Catch::Matchers::Contains("unknown proxy metric 'nonsense'"));
}

TEST_CASE("ranks best first: ties share the mean rank, in each direction", "[e2e]") {
  CHECK(ranks_best_first({10, 30, 20}, Direction::higher_better) == std::vector<double>{3, 1, 2});
  CHECK(ranks_best_first({5, 7, 5, 1}, Direction::higher_better) == std::vector<double>{2.5, 1, 2.5, 4});
  CHECK(ranks_best_first({10, 30, 20}, Direction::lower_better) == std::vector<double>{1, 3, 2});
  CHECK(ranks_best_first({5, 7, 5, 1}, Direction::lower_better) == std::vector<double>{2.5, 4, 2.5, 1});
}
