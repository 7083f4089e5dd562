#include "party/metrics.h"

#include <vector>

namespace partyd::party {

using metrics::TextWriter;

void PartyCounters::add(const PartyCounters& o) {
  roomsActivated += o.roomsActivated;
  roomsHibernated += o.roomsHibernated;
  roomsEvicted += o.roomsEvicted;
  roomResets += o.roomResets;
  handlerTimeouts += o.handlerTimeouts;
  connectionsOpened += o.connectionsOpened;
  for (std::size_t i = 0; i < connectionsClosed.size(); ++i) {
    connectionsClosed[i] += o.connectionsClosed[i];
  }
  slowConsumerCloses += o.slowConsumerCloses;
  messagesIn += o.messagesIn;
  bytesIn += o.bytesIn;
  messagesOut += o.messagesOut;
  bytesOut += o.bytesOut;
  alarmRuns += o.alarmRuns;
  alarmRetries += o.alarmRetries;
  alarmFailures += o.alarmFailures;
  http.add(o.http);
  roomsActive += o.roomsActive;
  roomsAsleep += o.roomsAsleep;
  connectionsOpen += o.connectionsOpen;
}

void ShardMetrics::add(const ShardMetrics& o) {
  for (const auto& [name, counters] : o.parties) party(name).add(counters);
  handlerSeconds.add(o.handlerSeconds);
  turnCommitSeconds.add(o.turnCommitSeconds);
  storageCommitSeconds.add(o.storageCommitSeconds);
  storageCommits += o.storageCommits;
  storageCommitFailures += o.storageCommitFailures;
  storageBytes += o.storageBytes;
}

namespace {

struct PartyFamily {
  const char* name;
  TextWriter::Type type;
  const char* help;
  std::uint64_t PartyCounters::*field;
};

constexpr TextWriter::Type kCounter = TextWriter::Type::kCounter;
constexpr TextWriter::Type kGauge = TextWriter::Type::kGauge;

constexpr PartyFamily kPartyFamilies[] = {
    {"partyd_rooms_active", kGauge, "Rooms whose object is live (built and not hibernated).",
     &PartyCounters::roomsActive},
    {"partyd_rooms_hibernated", kGauge,
     "Rooms held without their object: hibernated with sockets open, or reset and not yet "
     "woken.",
     &PartyCounters::roomsAsleep},
    {"partyd_room_activations_total", kCounter,
     "Room objects built: a room's first event, or a wake after hibernation or a reset.",
     &PartyCounters::roomsActivated},
    {"partyd_room_hibernations_total", kCounter,
     "Room objects dropped by hibernation while their sockets stayed open.",
     &PartyCounters::roomsHibernated},
    {"partyd_room_evictions_total", kCounter,
     "Rooms dropped after the idle timeout with no connection and no work.",
     &PartyCounters::roomsEvicted},
    {"partyd_room_resets_total", kCounter,
     "Room objects dropped by a reset: after a handler timeout, or a reload of the code.",
     &PartyCounters::roomResets},
    {"partyd_handler_timeouts_total", kCounter,
     "Handlers stopped because they ran longer than the handler timeout.",
     &PartyCounters::handlerTimeouts},
    {"partyd_connections_active", kGauge, "WebSocket connections open now.",
     &PartyCounters::connectionsOpen},
    {"partyd_connections_opened_total", kCounter, "WebSocket connections accepted (101 sent).",
     &PartyCounters::connectionsOpened},
    {"partyd_slow_consumer_closes_total", kCounter,
     "WebSockets closed with 1008 because their client read too slowly (send queue full).",
     &PartyCounters::slowConsumerCloses},
    {"partyd_ws_messages_received_total", kCounter, "WebSocket messages received from clients.",
     &PartyCounters::messagesIn},
    {"partyd_ws_bytes_received_total", kCounter,
     "Payload bytes of the WebSocket messages received.", &PartyCounters::bytesIn},
    {"partyd_ws_messages_sent_total", kCounter,
     "WebSocket messages queued to clients (a broadcast counts once per socket).",
     &PartyCounters::messagesOut},
    {"partyd_ws_bytes_sent_total", kCounter, "Payload bytes of the WebSocket messages sent.",
     &PartyCounters::bytesOut},
    {"partyd_alarm_runs_total", kCounter, "onAlarm runs, retries included.",
     &PartyCounters::alarmRuns},
    {"partyd_alarm_retries_total", kCounter, "onAlarm runs that failed and were rescheduled.",
     &PartyCounters::alarmRetries},
    {"partyd_alarm_failures_total", kCounter, "Alarms dropped after failing every retry.",
     &PartyCounters::alarmFailures},
};

}  // namespace

void writeMetrics(std::span<const ProjectMetrics> projects, TextWriter& w) {
  for (const PartyFamily& f : kPartyFamilies) {
    w.family(f.name, f.type, f.help);
    for (const auto& [project, m] : projects) {
      for (const auto& [party, c] : m.parties) {
        w.sample(f.name, {{"project", project}, {"party", party}}, c.*(f.field));
      }
    }
  }

  w.family("partyd_connections_closed_total", kCounter,
           "WebSocket connections closed, by close code (1000-1015 each, 3xxx, 4xxx, other).");
  for (const auto& [project, m] : projects) {
    for (const auto& [party, c] : m.parties) {
      for (std::size_t i = 0; i < kCloseClasses.size(); ++i) {
        if (c.connectionsClosed[i] == 0) continue;
        w.sample("partyd_connections_closed_total",
                 {{"project", project}, {"party", party}, {"code", kCloseClasses[i]}},
                 c.connectionsClosed[i]);
      }
    }
  }

  static constexpr std::string_view kClasses[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
  w.family("partyd_http_requests_total", kCounter,
           "HTTP responses sent, by status class (WebSocket upgrades are counted as "
           "connections).");
  for (const auto& [project, m] : projects) {
    for (const auto& [party, c] : m.parties) {
      for (std::size_t i = 0; i < c.http.byClass.size(); ++i) {
        if (c.http.byClass[i] == 0) continue;
        w.sample("partyd_http_requests_total",
                 {{"project", project}, {"party", party}, {"code", kClasses[i]}},
                 c.http.byClass[i]);
      }
    }
  }

  // Request times by kind and status class, summed over the parties (a bounded label set:
  // 4 kinds by 6 classes at most, per project).
  w.family("partyd_http_request_duration_seconds", TextWriter::Type::kHistogram,
           "Time from an HTTP request's parse (or its hand-off to the room's shard) to its "
           "response's write, by kind (party, asset, fetch, upgrade) and status class.");
  for (const auto& [project, m] : projects) {
    http::ResponseCounts total;
    for (const auto& [party, c] : m.parties) total.add(c.http);
    for (std::size_t k = 0; k < total.seconds.size(); ++k) {
      for (std::size_t i = 0; i < total.seconds[k].size(); ++i) {
        if (total.seconds[k][i].count() == 0) continue;
        w.histogram("partyd_http_request_duration_seconds",
                    {{"project", project}, {"kind", http::kRequestKinds[k]}, {"code", kClasses[i]}},
                    total.seconds[k][i]);
      }
    }
  }

  struct Timing {
    const char* name;
    const char* help;
    metrics::Histogram ShardMetrics::*field;
  };
  static constexpr Timing kTimings[] = {
      {"partyd_handler_duration_seconds",
       "Time of each run of user code (an event handler, a hook, a timer), start to end.",
       &ShardMetrics::handlerSeconds},
      {"partyd_turn_commit_duration_seconds",
       "Time of a loop pass's output gate: the storage commit, then the responses and frames "
       "let out.",
       &ShardMetrics::turnCommitSeconds},
      {"partyd_storage_commit_duration_seconds",
       "Time of the storage transaction's commit (what the output gate waits for).",
       &ShardMetrics::storageCommitSeconds},
  };
  for (const Timing& t : kTimings) {
    w.family(t.name, TextWriter::Type::kHistogram, t.help);
    for (const auto& [project, m] : projects) w.histogram(t.name, {{"project", project}}, m.*(t.field));
  }
  w.family("partyd_storage_commit_failures_total", kCounter,
           "Storage commits that failed (that turn's writes were rolled back).");
  for (const auto& [project, m] : projects) {
    w.sample("partyd_storage_commit_failures_total", {{"project", project}},
             m.storageCommitFailures);
  }
  w.family("partyd_storage_bytes", kGauge,
           "Bytes of the room storage databases in use (SQLite pages not on the free list).");
  for (const auto& [project, m] : projects) {
    w.sample("partyd_storage_bytes", {{"project", project}}, m.storageBytes);
  }
}

}  // namespace partyd::party
