#include "WorkerDaemon.hpp"

int main(int argc, char** argv) {
    return fetchml::runWorker(argc, argv);
}
