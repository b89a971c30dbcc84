// `hugeblob versions NAME` and `hugeblob forget [NAME|PREFIX] --keep-...`.
#pragma once

#include <functional>

#include "cli/options.h"

namespace hugeblob::cli {

// Registers the versions and forget subcommands on `app`; when one is
// chosen, `run` is set to the function that runs it.
void AddVersionsCommands(CLI::App& app, GlobalOptions& g, std::function<int()>& run);

}  // namespace hugeblob::cli
