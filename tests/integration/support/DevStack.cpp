#include "support/DevStack.hpp"

#include <catch2/catch.hpp>

namespace fetchml::test {

DevStack::DevStack(int slots, const std::vector<std::string>& env) {
    std::vector<std::string> upEnv = env;
    upEnv.push_back("FETCHML_DEV_SLOTS=" + std::to_string(slots));
    auto r = run({sourceDir() + "/scripts/dev-stack", "up", "--dir", dir_.path(), "--build",
                  binaryDir(), "--port", "0"},
                 upEnv);
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
    for (const auto& line : splitLines(r.out)) {
        auto eq = line.find('=');
        if (line.rfind("export ", 0) == 0 && eq != std::string::npos) {
            env_.push_back(line.substr(7));
        }
    }
    REQUIRE(env_.size() == 3);
}

DevStack::~DevStack() {
    run({sourceDir() + "/scripts/dev-stack", "down", "--dir", dir_.path()});
}

void DevStack::command(const std::string& command, const std::vector<std::string>& args) {
    std::vector<std::string> argv{
        sourceDir() + "/scripts/dev-stack", command, "--dir", dir_.path(), "--build", binaryDir()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv);
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
}

std::string DevStack::value(const std::string& name) const {
    for (const auto& e : env_) {
        if (e.rfind(name + "=", 0) == 0) {
            return e.substr(name.size() + 1);
        }
    }
    return "";
}

std::vector<std::string> DevStack::splitLines(const std::string& s) {
    std::vector<std::string> out;
    std::string::size_type start = 0;
    while (start < s.size()) {
        auto end = s.find('\n', start);
        if (end == std::string::npos) {
            end = s.size();
        }
        if (end > start) {
            out.push_back(s.substr(start, end - start));
        }
        start = end + 1;
    }
    return out;
}

}  // namespace fetchml::test
