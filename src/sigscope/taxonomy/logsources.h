// Concrete events behind a Sigma logsource: Windows channels, providers
// and event ids per category and service, with the field renames a source
// needs (Security 4688 names the image NewProcessName, for example). Backed by
// the bundled tables generated from the Sigma taxonomy appendix and the
// pySigma, Chainsaw and Hayabusa mappings.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sigscope/rules/model.h"

namespace sigscope {

// One concrete event source a rule's logsource stands for.
struct EventSource {
  std::string log;                    // display name: "Sysmon", "Security", "PowerShell"...
  std::vector<std::string> channels;  // event log channels
  std::string provider;               // provider name, may be empty
  int event_id = -1;                  // -1: every event of the channels
  std::string title;                  // event title, e.g. "Process creation"
  std::map<std::string, std::string> field_renames;     // Sigma field -> event field
  std::map<std::string, std::string> extra_conditions;  // field -> required value
  std::string note;
  // Filled by the catalog analysis from the event field table
  // (taxonomy/fields.h). The rule's fields, as the rule names them, that
  // this event does not carry, and where the event's field list comes from
  // (empty when the table does not list the event).
  std::vector<std::string> missing_fields;
  std::string fields_basis;
  // False when every way to satisfy the rule's condition needs a field that
  // this event does not carry.
  bool can_match = true;
};

struct EventCoverage {
  bool mapped = false;
  std::string note;  // why nothing is listed, or extra context
  std::vector<EventSource> sources;
};

class LogsourceData {
 public:
  static const LogsourceData& bundled();

  // Lists the concrete sources of `logsource`. `event_ids` narrows a
  // service-only logsource (e.g. service: security) to the EventID values
  // the rule itself tests, each with its title where one is known.
  EventCoverage coverage(const Logsource& logsource, const std::vector<int>& event_ids = {}) const;

  // Title of an event of `channel`, or empty.
  std::string event_title(const std::string& channel, int event_id) const;

  // Windows service -> channels (e.g. security -> Security).
  const std::vector<std::string>* service_channels(const std::string& service) const;

  // One Windows category's concrete event: Sysmon 1 for process_creation,
  // Security 4688 with its field renames, and so on (for provider pages).
  struct CategoryEvent {
    std::string category;
    std::vector<std::string> channels;
    std::string provider;
    int event_id = -1;
    std::string title;
    std::map<std::string, std::string> field_renames;
  };
  std::vector<CategoryEvent> category_events() const;

  // Every titled event: (channel, event id) -> title.
  const std::map<std::pair<std::string, int>, std::string>& event_titles() const { return titles_; }

  // Windows service -> its channels and providers.
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> service_table() const;

  // Names of the Windows categories and services the tables map, sorted. The
  // router matches a rule's category and service against them case-sensitively.
  std::vector<std::string> category_names() const;
  std::vector<std::string> service_names() const;

  // A misspelled word of a channel or provider name, and the name with it
  // corrected.
  struct NameCorrection {
    std::string name;         // the corrected name; empty when no word looks misspelled
    std::string word;         // the word as the name spells it ("Microsfot")
    std::string replacement;  // the word as other names spell it ("Microsoft")
    int names = 0;            // how many names of the tables use the replacement
  };
  // Looks for a misspelled word in `name` (a channel or provider name of the
  // tables). A word is taken as misspelled when no other name of the tables
  // has it. It must also be one edit or one swap of neighbouring letters
  // away from a word of at least five letters that three or more names share.
  // Hayabusa's title table spells the USB hub channel
  // "Microsfot-Windows-USB-USBHUB3-Analytic".
  NameCorrection corrected_name(const std::string& name) const;

 private:
  struct Mapping {
    std::string log;
    std::string service;
    std::vector<std::string> channels;
    std::string provider;
    std::vector<int> event_ids;
    std::map<std::string, std::string> titles;
    std::map<std::string, std::string> extra_conditions;
    std::map<std::string, std::string> field_renames;
    std::string conditions_text;  // non-channel conditions (ETW provider...)
  };
  struct Service {
    std::vector<std::string> channels;
    std::vector<std::string> providers;
    std::string note;
  };
  struct OtherSource {
    std::map<std::string, std::string> logsource;  // category/product/service
    std::string description;
    std::string conditions_text;
  };
  std::map<std::string, std::vector<Mapping>> categories_;
  std::map<std::string, Service> services_;
  std::map<std::pair<std::string, int>, std::string> titles_;
  std::vector<OtherSource> other_;
  struct NameWord {
    int names = 0;         // distinct channel and provider names using the word
    std::string spelling;  // as the first of them writes it
  };
  // Words of the tables' channel and provider names, by lower-case word.
  std::map<std::string, NameWord> name_words_;
};

// Display name of a Windows channel's log ("Security", "Sysmon", ...).
std::string log_display_name(const std::string& channel);

}  // namespace sigscope
