#pragma once

#include "db/settings.hpp"
#include "model/delivery.hpp"
#include "telemetry/metrics.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace shopmirror::db {

struct writer_settings {
  /// Database connections, one per writer thread. Two keep one batch
  /// committing while the next fills; more split the same deliveries into
  /// smaller batches whose backends compete for the database's CPU (on two
  /// cores, 2 writers answered 7 to 8 % more than 4: README, Performance).
  std::size_t connections = 2;
  /// Most deliveries committed in one transaction.
  std::size_t max_batch = 64;
  /// How long a writer waits for a batch to fill before committing a
  /// smaller one. Zero commits whatever is queued at once; under load,
  /// batches still form while the other writers are committing.
  std::chrono::microseconds max_wait{0};
  /// Deliveries waiting for a writer; beyond this they are refused at once.
  std::size_t queue_capacity = 4096;
};

/// Where the writer records what it does; any pointer may be null.
struct writer_metrics {
  telemetry::histogram* commit_seconds = nullptr;
  telemetry::histogram* batch_size = nullptr;
};

class delivery_store;

/// Group commit: deliveries from many connections are gathered into batches
/// and each batch is applied in one transaction by one of several writer
/// threads, each with a connection of its own. A delivery's completion runs
/// only after its batch has committed (or failed). Thread-safe.
class delivery_writer {
public:
  using clock = std::chrono::steady_clock;
  /// Called exactly once per delivery, on a writer thread, or on the
  /// submitting thread when the delivery is refused.
  using completion = std::function<void(model::apply_outcome)>;
  /// Where the writer reads the time for deadlines and the commit rate;
  /// tests pass a clock they advance by hand, so no decision depends on
  /// how fast the machine is.
  using time_source = std::function<clock::time_point()>;

  delivery_writer(db_settings settings, writer_settings options, writer_metrics metrics = {},
                  time_source now = &clock::now);
  ~delivery_writer();
  delivery_writer(const delivery_writer&) = delete;
  delivery_writer& operator=(const delivery_writer&) = delete;

  /// Queues a delivery. If the queue is full, the writer is stopping, or
  /// the queue ahead of it would take longer to commit than its deadline
  /// allows (judged from the recent commit rate), the completion runs at
  /// once with retry_later: a fast 503 instead of a late one. A delivery
  /// still queued at its deadline is not applied: it completes with
  /// retry_later.
  void submit(model::delivery_item item, clock::time_point deadline, completion done);

  /// Applies everything already queued, then stops the threads.
  void stop();

  std::size_t queue_depth() const;
  std::size_t busy_writers() const noexcept { return busy_.load(); }
  std::size_t connected_writers() const noexcept { return connected_.load(); }
  std::size_t writer_count() const noexcept { return threads_.size(); }

private:
  struct job {
    model::delivery_item item;
    clock::time_point deadline;
    completion done;
  };

  void run();
  /// Waits for work and takes a batch of it; false once stopping with
  /// nothing left.
  bool next_batch(std::vector<job>& batch);
  /// Applies the batch's deliveries that are still awaited; an outcome for
  /// each job.
  std::vector<model::apply_outcome> apply(delivery_store& store, std::vector<job>& batch);

  db_settings settings_;
  writer_settings options_;
  writer_metrics metrics_;
  time_source now_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<job> queue_;
  bool stopping_ = false;
  // Deliveries committed per second, smoothed; sampled by submit().
  std::atomic<std::uint64_t> completed_{0};
  std::uint64_t completed_at_sample_ = 0;
  clock::time_point sampled_at_{};
  double commit_rate_ = 0;
  std::atomic<std::size_t> busy_{0};
  std::atomic<std::size_t> connected_{0};
  std::vector<std::thread> threads_;
};

} // namespace shopmirror::db
