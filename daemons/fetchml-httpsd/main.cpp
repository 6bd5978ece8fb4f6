#include "EdgeDaemon.hpp"

int main(int argc, char** argv) {
    return fetchml::edge::EdgeDaemon::main(argc, argv);
}
