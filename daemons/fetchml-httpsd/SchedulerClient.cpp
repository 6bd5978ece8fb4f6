#include "SchedulerClient.hpp"

namespace fetchml::edge {

SchedulerClient::SchedulerClient(const std::string& bus, unsigned threads) {
    threads = threads == 0 ? 1 : threads;
    for (unsigned i = 0; i < threads; ++i) {
        proxies_.push_back(std::make_unique<SchedulerProxy>(bus));
    }
    for (auto& proxy : proxies_) {
        threads_.emplace_back([this, p = proxy.get()] { loop(*p); });
    }
}

SchedulerClient::~SchedulerClient() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& thread : threads_) {
        thread.join();
    }
}

void SchedulerClient::post(Task task) {
    {
        std::lock_guard lock(mutex_);
        tasks_.push_back(std::move(task));
    }
    wake_.notify_one();
}

void SchedulerClient::loop(SchedulerProxy& proxy) {
    while (true) {
        Task task;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
            if (tasks_.empty()) {
                return;  // stopping and drained
            }
            task = std::move(tasks_.front());
            tasks_.pop_front();
        }
        task(proxy);
    }
}

}  // namespace fetchml::edge
