#include "SchedulerDaemon.hpp"

int main(int argc, char** argv) {
    return fetchml::SchedulerDaemon::run(argc, argv);
}
