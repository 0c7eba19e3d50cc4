// Bundled taxonomy tables: known fields per logsource.
#include <gtest/gtest.h>

#include <set>

#include "sigscope/taxonomy/attack.h"
#include "sigscope/taxonomy/fields.h"
#include "sigscope/taxonomy/logsources.h"

namespace sigscope {
namespace {

Logsource make(std::string product, std::string category, std::string service = "") {
  Logsource l;
  l.product = std::move(product);
  l.category = std::move(category);
  l.service = std::move(service);
  return l;
}

TEST(LogsourceFields, ProcessCreationHasImageAndCommonFields) {
  auto f = LogsourceFields::bundled().fields(make("windows", "process_creation"));
  ASSERT_TRUE(f.known);
  EXPECT_TRUE(f.contains("Image"));
  EXPECT_TRUE(f.contains("CommandLine"));
  EXPECT_TRUE(f.contains("EventID"));  // common to every Windows log
  EXPECT_TRUE(f.addon_fields.count("GrandparentCommandLine"));
  EXPECT_FALSE(f.contains("TargetObject"));
}

TEST(LogsourceFields, ServiceOnlyLogsource) {
  auto f = LogsourceFields::bundled().fields(make("windows", "", "taskscheduler"));
  ASSERT_TRUE(f.known);
  EXPECT_TRUE(f.contains("TaskName"));
  // The table lists service: security without fields: nothing is checked.
  EXPECT_FALSE(LogsourceFields::bundled().fields(make("windows", "", "security")).known);
}

TEST(EventFieldTable, Security4688HasItsOwnFields) {
  EventFields f = EventFieldTable::bundled().fields("Security", "Microsoft-Windows-Security-Auditing", 4688);
  ASSERT_TRUE(f.known);
  const std::set<std::string> expected = {
      "SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId", "NewProcessId",
      "NewProcessName", "TokenElevationType", "ProcessId",       "CommandLine",    "TargetUserSid",
      "TargetUserName", "TargetDomainName",   "TargetLogonId",   "ParentProcessName", "MandatoryLabel"};
  EXPECT_EQ(f.fields, expected);
  // Sysmon's process-creation fields are not 4688's.
  EXPECT_FALSE(f.has("OriginalFileName"));
  EXPECT_FALSE(f.has("Hashes"));
  EXPECT_FALSE(f.has("Image"));
  // System fields are in every event.
  EXPECT_TRUE(f.has("EventID"));
  EXPECT_TRUE(f.has("Provider_Name"));
  EXPECT_GT(f.samples, 0);
  EXPECT_NE(f.basis().find("sample events, versions 1 and 2"), std::string::npos) << f.basis();
}

TEST(EventFieldTable, Security4657FromDocumentation) {
  EventFields f = EventFieldTable::bundled().fields("Security", "", 4657);
  ASSERT_TRUE(f.known);
  EXPECT_TRUE(f.has("ObjectName"));
  EXPECT_TRUE(f.has("ProcessName"));
  EXPECT_TRUE(f.has("NewValue"));
  EXPECT_FALSE(f.has("TargetObject"));
  EXPECT_EQ(f.samples, 0);
  EXPECT_NE(f.basis().find("learn.microsoft.com"), std::string::npos) << f.basis();
}

TEST(EventFieldTable, EmptyProviderMergesProviders) {
  // System event 1 comes from Kernel-General and from FilterManager.
  EventFields f = EventFieldTable::bundled().fields("System", "", 1);
  ASSERT_TRUE(f.known);
  EXPECT_TRUE(f.has("NewTime"));
  EXPECT_TRUE(f.has("DeviceName"));
  EventFields general = EventFieldTable::bundled().fields("System", "Microsoft-Windows-Kernel-General", 1);
  EXPECT_FALSE(general.has("DeviceName"));
}

TEST(EventFieldTable, UnlistedEventIsNotKnown) {
  EXPECT_FALSE(EventFieldTable::bundled().fields("Security", "", 99999).known);
  EXPECT_FALSE(EventFieldTable::bundled().fields("No-Such-Channel", "", 1).known);
}

TEST(Logsources, MisspelledChannelNameIsCorrected) {
  const LogsourceData& tables = LogsourceData::bundled();
  auto correction = tables.corrected_name("Microsfot-Windows-USB-USBHUB3-Analytic");
  EXPECT_EQ(correction.name, "Microsoft-Windows-USB-USBHUB3-Analytic");
  EXPECT_EQ(correction.word, "Microsfot");
  EXPECT_EQ(correction.replacement, "Microsoft");
  EXPECT_GE(correction.names, 3);
}

TEST(Logsources, CorrectlySpelledNamesAreKept) {
  const LogsourceData& tables = LogsourceData::bundled();
  std::set<std::string> names;
  for (const auto& [key, title] : tables.event_titles()) names.insert(key.first);
  for (const auto& [service, table] : tables.service_table()) {
    names.insert(table.first.begin(), table.first.end());
    names.insert(table.second.begin(), table.second.end());
  }
  for (const auto& name : names) {
    if (name == "Microsfot-Windows-USB-USBHUB3-Analytic") continue;
    EXPECT_EQ(tables.corrected_name(name).name, "") << name;
  }
  // Letter case alone is no misspelling (SmbClient and SMBClient).
  EXPECT_EQ(tables.corrected_name("Microsoft-Windows-SMBClient/Security").name, "");
}

TEST(LogsourceFields, UnknownLogsourceIsNotKnown) {
  EXPECT_FALSE(LogsourceFields::bundled().fields(make("windows", "no_such_category")).known);
  EXPECT_FALSE(LogsourceFields::bundled().fields(make("no_such_product", "")).known);
  EXPECT_FALSE(LogsourceFields::bundled().version().empty());
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

// A rule of product windows alone reaches every Windows event in hunt, and
// its coverage states it instead of "no event mapping is known".
TEST(Logsources, WindowsProductAloneCoversEveryEvent) {
  Logsource ls;
  ls.product = "windows";
  EventCoverage coverage = LogsourceData::bundled().coverage(ls);
  EXPECT_TRUE(coverage.mapped);
  EXPECT_NE(coverage.note.find("every event that has a Channel field"), std::string::npos) << coverage.note;
}

}  // namespace
}  // namespace sigscope

namespace sigscope {
namespace {

// A malformed technique tag is not labelled as a newer ATT&CK id.
TEST(Attack, MalformedTechniqueIdIsNamed) {
  AttackCoverage coverage = AttackData::bundled().coverage({"attack.execution", "attack.t1059.01", "attack.t9999"});
  std::map<std::string, std::string> notes;
  for (const auto& row : coverage.tactics)
    for (const auto& t : row.techniques) notes[t.id] = t.note;
  EXPECT_EQ(notes["T1059.01"], "not a valid technique id, which reads T1234 or T1234.567");
  EXPECT_NE(notes["T9999"].find("not in the bundled ATT&CK"), std::string::npos) << notes["T9999"];
}

}  // namespace
}  // namespace sigscope
