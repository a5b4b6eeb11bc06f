#include "worker/batch.hpp"

namespace ckv {

json batch_to_json(const Batch& batch) {
  json units = json::array();
  for (const auto& u : batch.units) units.push_back({{"unit", u.unit_id}, {"config", u.config}});
  return {{"batch", batch.batch_id},
          {"path", batch.sample_path},
          {"label", batch.sample_label},
          {"fingerprint", batch.sample_fingerprint},
          {"units", units}};
}

Batch batch_from_json(const json& j) {
  Batch batch;
  batch.batch_id = j.at("batch").get<int64_t>();
  batch.sample_path = j.at("path").get<std::string>();
  batch.sample_label = j.at("label").get<std::string>();
  batch.sample_fingerprint = j.value("fingerprint", std::string());
  for (const auto& u : j.at("units"))
    batch.units.push_back(UnitTask{u.at("unit").get<int64_t>(), u.at("config")});
  return batch;
}

json batch_result_to_json(const BatchResult& result) {
  json units = json::array();
  for (const auto& u : result.units) {
    json metrics = json::object();
    for (const auto& [name, value] : u.metrics) metrics[name] = value ? json(*value) : json(nullptr);
    units.push_back({{"unit", u.unit_id},
                     {"ok", u.ok},
                     {"error", u.error},
                     {"metrics", metrics},
                     {"started", u.started},
                     {"ended", u.ended}});
  }
  return {{"batch", result.batch_id}, {"units", units}, {"notes", result.notes}};
}

BatchResult batch_result_from_json(const json& j) {
  BatchResult result;
  result.batch_id = j.at("batch").get<int64_t>();
  result.notes = j.value("notes", std::vector<std::string>());
  for (const auto& u : j.at("units")) {
    UnitResult out;
    out.unit_id = u.at("unit").get<int64_t>();
    out.ok = u.at("ok").get<bool>();
    out.error = u.at("error").get<std::string>();
    for (const auto& [name, value] : u.at("metrics").items())
      out.metrics[name] = value.is_null() ? std::nullopt : std::optional<double>(value.get<double>());
    out.started = u.at("started").get<double>();
    out.ended = u.at("ended").get<double>();
    result.units.push_back(std::move(out));
  }
  return result;
}

}  // namespace ckv
