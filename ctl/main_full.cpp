// fetchmlctl-full: every command of fetchmlctl, with the HTTPS transport, login, backup and
// restore. fetchmlctl runs it for those (Commands.hpp, CtlEdition); installed in
// libexec/fetchml, not on PATH.
#include "Commands.hpp"
#include "HttpsTransport.hpp"

int main(int argc, char** argv) {
    using namespace fetchml::ctl;
    CtlEdition edition;
    edition.extraGroups = {{addLoginCommand, {"login"}},
                           {addBackupCommands, {"backup", "restore"}}};
    edition.https = makeHttpsTransport;
    return runCtl(argc, argv, edition);
}
