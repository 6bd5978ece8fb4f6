#include "Commands.hpp"

int main(int argc, char** argv) {
    return fetchml::ctl::runCtl(argc, argv);
}
