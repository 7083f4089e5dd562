// The bench party with hibernation on (W4, W5): the same room logic as bench/party, but the
// runtime may evict the room while its sockets stay open. `partykit dev` never hibernates.
import BenchServer from "../../party/src/server.js";

export default class HibernatingBenchServer extends BenchServer {
  options = { hibernate: true };
}
