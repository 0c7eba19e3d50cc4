// Data files compiled into the binary (see cmake/embed.cmake and data/README.md).
#pragma once

#include <string_view>

namespace sigscope::embedded {
extern const std::string_view attack_enterprise_json;  // data/attack-enterprise.json
extern const std::string_view logsources_json;         // data/logsources.json
extern const std::string_view logsource_fields_json;   // data/logsource-fields.json
extern const std::string_view event_fields_json;       // data/event-fields.json
extern const std::string_view catalog_css;             // catalog/assets/catalog.css
extern const std::string_view catalog_js;              // catalog/assets/catalog.js
extern const std::string_view attack_js;               // catalog/assets/attack.js
extern const std::string_view pipeline_ecs_windows_yml;        // pipelines/ecs-windows.yml
extern const std::string_view pipeline_winlogbeat_sysmon_yml;  // pipelines/winlogbeat-sysmon.yml
extern const std::string_view pipeline_sysmon_yml;             // pipelines/sysmon.yml
}  // namespace sigscope::embedded
