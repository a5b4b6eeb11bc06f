// Configuration labels and name resolution (report/configuration_labels.hpp) and the text-table
// renderer of the analysis commands (report/text_table.hpp), on hand-written cases.
#include <catch2/catch.hpp>

#include "report/configuration_labels.hpp"
#include "report/text_table.hpp"

using namespace ckv;

namespace {

ConfigurationRef config(const std::string& hash, const std::string& method, json params, json eval) {
  return {hash, method, json{{"method", method}, {"params", params}, {"eval", eval}}};
}

std::vector<ConfigurationRef> campaign() {
  return {config("aaaa1111", "snapkv", {{"budget", 256}, {"window", 32}}, {{"numerics", 2}, {"topk", 32}}),
          config("aaaa2222", "snapkv", {{"budget", 512}, {"window", 32}}, {{"numerics", 2}, {"topk", 32}}),
          config("bbbb3333", "h2o", {{"budget", 256}}, {{"numerics", 2}, {"topk", 32}}),
          config("cccc4444", "streaming_llm", {{"budget", 256}, {"sinks", json::array({0, 1})}}, {{"topk", 32}})};
}

}  // namespace

TEST_CASE("labels show the parameters that vary within a method, resolvable back", "[report]") {
  const auto refs = campaign();
  // budget varies for snapkv; eval.numerics varies only between methods (legacy 1 for
  // streaming_llm, whose document has none): not a label column.
  CHECK(varying_parameters(refs) == std::vector<std::string>{"budget"});
  const auto labels = configuration_labels(refs);
  CHECK(labels == std::vector<std::string>{"snapkv budget=256", "snapkv budget=512", "h2o budget=256",
                                           "streaming_llm budget=256"});
  CHECK(match_configurations(refs, "snapkv budget=512") == std::vector<size_t>{1});
  CHECK(match_configurations(refs, "snapkv") == std::vector<size_t>{0, 1});
  CHECK(match_configurations(refs, "snapkv window=32 budget=256") == std::vector<size_t>{0});
  CHECK(match_configurations(refs, "snapkv topk=32") == std::vector<size_t>{0, 1});  // eval. may be left off
  CHECK(match_configurations(refs, "streaming_llm sinks=0+1") == std::vector<size_t>{3});
  CHECK(match_configurations(refs, "bbbb") == std::vector<size_t>{2});
  CHECK(match_configurations(refs, "aaaa") == std::vector<size_t>{0, 1});
  CHECK(match_configurations(refs, "snapkv budget=1024").empty());
  CHECK(match_configurations(refs, "tova").empty());
  CHECK(match_configurations(refs, "snapkv budget").empty());
  CHECK(numerics_of(refs[3].document) == 1);
  CHECK(numerics_of(refs[0].document) == 2);
}

TEST_CASE("labels that would coincide carry the hash prefix", "[report]") {
  std::vector<ConfigurationRef> refs = campaign();
  // Two snapkv configurations that differ only in a parameter one of them lacks: nothing
  // takes two values, so the labels coincide and the hash prefix tells them apart.
  refs[1].document["params"]["budget"] = 256;
  refs[1].document["params"].erase("window");
  const std::vector<ConfigurationRef> pair{refs[0], refs[1]};
  const auto same = configuration_labels(pair);
  CHECK(same[0] == "snapkv [aaaa1111]");
  CHECK(same[1] == "snapkv [aaaa2222]");
  CHECK(match_configurations(pair, "snapkv [aaaa2222]") == std::vector<size_t>{1});
}

TEST_CASE("renamed parameters are shown and matched under their new names", "[report]") {
  // Stored documents keep a renamed parameter's former key (its hash is unchanged); readers see
  // the registry's current name: rc's `walkers` is `walkers_per_source`, its `max_steps`
  // `max_positions`; circuitkv_walk's own `walkers` and `max_steps` keep their names.
  const std::vector<ConfigurationRef> refs{
      config("dddd1111", "rc", {{"walkers", 16}, {"max_steps", 10}}, {{"numerics", 2}}),
      config("dddd2222", "rc", {{"walkers", 32}, {"max_steps", 10}}, {{"numerics", 2}}),
      config("eeee3333", "circuitkv_walk", {{"walkers", 16}, {"max_steps", 10}}, {{"numerics", 2}}),
      config("eeee4444", "circuitkv_walk", {{"walkers", 16}, {"max_steps", 20}}, {{"numerics", 2}})};
  const auto flat = flat_parameters(refs[0].document);
  CHECK(flat.count("walkers_per_source") == 1);
  CHECK(flat.count("max_positions") == 1);
  CHECK(flat.count("walkers") == 0);
  CHECK(flat_parameters(refs[2].document).count("walkers") == 1);
  CHECK(varying_parameters(refs) == std::vector<std::string>{"walkers_per_source", "max_steps"});
  CHECK(configuration_labels(refs) == std::vector<std::string>{"rc walkers_per_source=16", "rc walkers_per_source=32",
                                                               "circuitkv_walk max_steps=10",
                                                               "circuitkv_walk max_steps=20"});
  CHECK(match_configurations(refs, "rc walkers_per_source=32") == std::vector<size_t>{1});
  CHECK(match_configurations(refs, "rc walkers=32") == std::vector<size_t>{1});  // the former name still finds it
  CHECK(match_configurations(refs, "circuitkv_walk walkers=16") == std::vector<size_t>{2, 3});
}

TEST_CASE("text tables in markdown, csv and LaTeX", "[report]") {
  TextTable t;
  t.title = "title";
  t.header = {"task", "A − B", "n"};
  t.label_columns = 1;
  t.rows = {{"hotpot_qa", "0.5", "3"}, {"x,y", "−1.25", "10"}};
  t.notes = {"a note"};
  CHECK(render_text_table(t, "markdown") ==
        "**title**\n\n"
        "| task      | A − B |   n |\n"
        "|-----------|------:|----:|\n"
        "| hotpot_qa |   0.5 |   3 |\n"
        "| x,y       | −1.25 |  10 |\n"
        "\na note\n");
  CHECK(render_text_table(t, "csv") == "task,A − B,n\nhotpot_qa,0.5,3\n\"x,y\",−1.25,10\n");
  CHECK(render_text_table(t, "latex") ==
        "% title\n\\begin{tabular}{lrr}\n\\toprule\ntask & A $-$ B & n \\\\\n\\midrule\n"
        "hotpot\\_qa & 0.5 & 3 \\\\\nx,y & $-$1.25 & 10 \\\\\n\\bottomrule\n\\end{tabular}\n% a note\n");
  CHECK_THROWS(render_text_table(t, "html"));
  CHECK(latex_escape("50% & $x_1$ {~^\\} ±τρ∞") ==
        "50\\% \\& \\$x\\_1\\$ \\{\\textasciitilde{}\\textasciicircum{}\\textbackslash{}\\} $\\pm$$\\tau$$\\rho$$\\infty$");
}
