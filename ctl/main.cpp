// fetchmlctl: the commands over the system bus. It links neither OpenSSL nor SQLite and hands
// everything else to fetchmlctl-full (Commands.hpp, CtlEdition).
#include "Commands.hpp"

int main(int argc, char** argv) {
    return fetchml::ctl::runCtl(argc, argv, fetchml::ctl::CtlEdition{});
}
