// `hugeblob mount [--store URL] MOUNTPOINT [-f] [--allow-other] [cache options]`
#pragma once

#include <functional>

#include "cli/options.h"

namespace hugeblob::cli {

// Registers the mount subcommand on `app`; when it is chosen, `run` is set
// to the function that mounts and serves until unmounted.
void AddMountCommand(CLI::App& app, GlobalOptions& g, std::function<int()>& run);

}  // namespace hugeblob::cli
