#pragma once
// CPU time of processes, read from /proc, for the benchmarks that report
// where the cores went: per request, a process's share is far steadier than
// its throughput on a shared machine.

namespace shopmirror::bench {

/// utime + stime of process `pid` in clock ticks; 0 if it is gone.
long long process_ticks(int pid);

/// The CPU of a server that forks a process per connection (PostgreSQL):
/// the parent, its children alive now, and the children it has reaped
/// (its cutime and cstime), so a backend or autovacuum worker that exits
/// during a measurement is still counted.
long long process_tree_ticks(int parent);

/// Every CPU's busy time (not idle, not waiting for I/O, not stolen).
long long machine_ticks();

/// Microseconds per clock tick.
double micros_per_tick();

} // namespace shopmirror::bench
