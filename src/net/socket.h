// net::Socket is a TCP socket on the io_context's own executor type rather than
// any_io_executor. Its operations and their handlers carry no type-erased executor, which a
// keep-alive HTTP connection would otherwise copy on every read and write. Listeners accept into
// it, and it converts for free to tcp::socket where code wants that (a move, no system call).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace partyd::net {

using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp,
                                                boost::asio::io_context::executor_type>;
using Timer = boost::asio::basic_waitable_timer<
    std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>,
    boost::asio::io_context::executor_type>;

// The same descriptor as a net::Socket. The other direction is a move; this one is not: it takes
// the descriptor out of the reactor and registers it again. For sockets that arrive as
// tcp::socket (tests, the admin listener); an already-dead socket comes back closed, and its
// first read or write says so.
Socket toSocket(boost::asio::ip::tcp::socket socket);

}  // namespace partyd::net
