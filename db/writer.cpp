#include "db/writer.hpp"

#include "db/delivery_store.hpp"

namespace shopmirror::db {

delivery_writer::delivery_writer(db_settings settings, writer_settings options,
                                 writer_metrics metrics, time_source now)
    : settings_(std::move(settings)), options_(options), metrics_(metrics), now_(std::move(now)) {
  if (options_.connections == 0) {
    options_.connections = 1;
  }
  if (options_.max_batch == 0) {
    options_.max_batch = 1;
  }
  threads_.reserve(options_.connections);
  for (std::size_t i = 0; i < options_.connections; ++i) {
    threads_.emplace_back([this] { run(); });
  }
}

delivery_writer::~delivery_writer() {
  stop();
}

void delivery_writer::submit(model::delivery_item item, clock::time_point deadline,
                             completion done) {
  {
    std::lock_guard lock(mutex_);
    const auto now = now_();
    if (now - sampled_at_ >= std::chrono::milliseconds(100)) {
      const std::uint64_t completed = completed_.load();
      const double seconds = std::chrono::duration<double>(now - sampled_at_).count();
      if (sampled_at_ != clock::time_point{} && seconds < 5) {
        const double rate = static_cast<double>(completed - completed_at_sample_) / seconds;
        commit_rate_ = commit_rate_ == 0 ? rate : 0.7 * commit_rate_ + 0.3 * rate;
      }
      completed_at_sample_ = completed;
      sampled_at_ = now;
    }
    // Below a few batches' worth the queue drains at once; beyond, compare
    // the time it needs with the time this delivery has.
    const std::size_t ahead = queue_.size();
    // No rate measured yet: only the capacity bounds the queue.
    const bool too_late =
        ahead > options_.max_batch * options_.connections && commit_rate_ > 0 &&
        now + std::chrono::duration_cast<clock::duration>(
                  std::chrono::duration<double>(static_cast<double>(ahead) / commit_rate_)) >
            deadline;
    if (!stopping_ && ahead < options_.queue_capacity && !too_late) {
      queue_.push_back(job{std::move(item), deadline, std::move(done)});
      ready_.notify_one();
      return;
    }
  }
  // Backpressure: refusing now is better than a 200 that comes too late.
  done(model::apply_outcome::retry_later);
}

void delivery_writer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& thread : threads_) {
    if (thread.joinable()) {
      thread.join();
    }
  }
}

std::size_t delivery_writer::queue_depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

bool delivery_writer::next_batch(std::vector<job>& batch) {
  batch.clear();
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
  if (queue_.empty()) {
    return false; // stopping, and nothing left to apply
  }
  if (options_.max_wait.count() > 0 && queue_.size() < options_.max_batch && !stopping_) {
    ready_.wait_for(lock, options_.max_wait,
                    [this] { return stopping_ || queue_.size() >= options_.max_batch; });
  }
  while (!queue_.empty() && batch.size() < options_.max_batch) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  if (!queue_.empty()) {
    ready_.notify_one(); // more work for another writer
  }
  return true;
}

std::vector<model::apply_outcome> delivery_writer::apply(delivery_store& store,
                                                         std::vector<job>& batch) {
  // A delivery whose caller has already answered 503 is not applied:
  // Shopify will send it again.
  const auto now = now_();
  std::vector<model::apply_outcome> outcomes(batch.size(), model::apply_outcome::retry_later);
  std::vector<model::delivery_item> items;
  std::vector<std::size_t> live;
  items.reserve(batch.size());
  live.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].deadline > now) {
      items.push_back(std::move(batch[i].item));
      live.push_back(i);
    }
  }
  if (items.empty()) {
    return outcomes;
  }
  const auto started = clock::now();
  const auto applied = store.apply(items);
  const std::chrono::duration<double> took = clock::now() - started;
  if (metrics_.commit_seconds != nullptr) {
    metrics_.commit_seconds->observe(took.count());
  }
  if (metrics_.batch_size != nullptr) {
    metrics_.batch_size->observe(static_cast<double>(items.size()));
  }
  for (std::size_t k = 0; k < live.size(); ++k) {
    outcomes[live[k]] = applied[k];
  }
  completed_.fetch_add(items.size());
  return outcomes;
}

void delivery_writer::run() {
  delivery_store store(settings_);
  bool was_connected = false;
  std::vector<job> batch;
  while (next_batch(batch)) {
    busy_.fetch_add(1);
    const std::vector<model::apply_outcome> outcomes = apply(store, batch);
    const bool is_connected = store.connected();
    if (is_connected != was_connected) {
      if (is_connected) {
        connected_.fetch_add(1);
      } else {
        connected_.fetch_sub(1);
      }
      was_connected = is_connected;
    }
    busy_.fetch_sub(1);
    // Answered last, so that whoever reads the gauges after an answer sees
    // this batch finished.
    for (std::size_t i = 0; i < batch.size(); ++i) {
      batch[i].done(outcomes[i]);
    }
  }
  if (was_connected) {
    connected_.fetch_sub(1);
  }
}

} // namespace shopmirror::db
