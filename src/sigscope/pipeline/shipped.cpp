// The pipelines of the repository's pipelines/ folder, compiled into the
// binary (see cmake/embed.cmake).
#include <algorithm>

#include "sigscope/data/embedded.h"
#include "sigscope/pipeline/pipeline.h"

namespace sigscope {

const std::vector<ShippedPipeline>& shipped_pipelines() {
  static const std::vector<ShippedPipeline> pipelines = {
      {"ecs-windows",
       {"ecs_windows", "winlogbeat"},
       "Winlogbeat / Elastic Agent events as the Windows event log input writes them: EventData "
       "under winlog.event_data.*, channel and event id conditions per logsource",
       embedded::pipeline_ecs_windows_yml},
      {"winlogbeat-sysmon",
       {"winlogbeat_sysmon"},
       "ecs-windows plus the renames of Winlogbeat's sysmon module (process.executable, "
       "process.command_line, file.path...) for Sysmon events",
       embedded::pipeline_winlogbeat_sysmon_yml},
      {"sysmon",
       {},
       "plain JSON exports of Sysmon with Sigma's field names: adds Channel and EventID "
       "conditions to the generic Windows categories",
       embedded::pipeline_sysmon_yml},
  };
  return pipelines;
}

const ShippedPipeline* find_shipped_pipeline(std::string_view name) {
  for (const auto& pipeline : shipped_pipelines()) {
    if (pipeline.name == name) return &pipeline;
    if (std::find(pipeline.aliases.begin(), pipeline.aliases.end(), name) != pipeline.aliases.end())
      return &pipeline;
  }
  return nullptr;
}

}  // namespace sigscope
