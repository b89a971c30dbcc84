#include "fuse/tree.h"

#include <algorithm>
#include <set>

#include "format/layout.h"

namespace hugeblob::fuse {

uint64_t InodeTable::Assign(const std::string& path, const Hash256* manifest) {
  const bool dir = manifest == nullptr;
  auto [it, inserted] = slots_.try_emplace(path);
  Slot& s = it->second;
  // A new path, a file that became a directory (or back), or a name put
  // again with other content: a new number, so nothing the kernel cached
  // for the old inode can be served for the new one.
  if (inserted || s.dir != dir || (!dir && s.manifest != *manifest)) {
    s.ino = next_ino_++;
    s.dir = dir;
    s.manifest = dir ? Hash256{} : *manifest;
  }
  s.build = build_;
  return s.ino;
}

void InodeTable::EndBuild() {
  std::erase_if(slots_, [&](const auto& kv) { return kv.second.build != build_; });
  ++build_;
}

namespace {

constexpr size_t kMaxComponent = 255;

// Every proper prefix of `name` that ends before a '/': "a/b/c" -> "a", "a/b".
template <typename F>
void ForEachParent(const std::string& name, F&& f) {
  for (size_t pos = name.find('/'); pos != std::string::npos; pos = name.find('/', pos + 1)) {
    f(name.substr(0, pos));
  }
}

std::string_view BaseName(std::string_view path) {
  size_t pos = path.rfind('/');
  return pos == std::string_view::npos ? path : path.substr(pos + 1);
}

std::string ParentPath(const std::string& path) {
  size_t pos = path.rfind('/');
  return pos == std::string::npos ? std::string() : path.substr(0, pos);
}

}  // namespace

std::shared_ptr<const Tree> Tree::Build(std::vector<RefEntry> refs, InodeTable& inodes,
                                        int64_t root_mtime, std::vector<std::string>* warnings) {
  auto warn = [&](std::string line) {
    if (warnings != nullptr) warnings->push_back(std::move(line));
  };
  std::erase_if(refs, [&](const RefEntry& r) {
    Status ok = ValidateName(r.name);
    if (!ok) {
      warn("not shown: " + ok.error().message());
      return true;
    }
    // The kernel refuses longer path components (NAME_MAX).
    for (size_t start = 0;;) {
      size_t end = r.name.find('/', start);
      if ((end == std::string::npos ? r.name.size() : end) - start > kMaxComponent) {
        warn("not shown: '" + r.name + "' has a component longer than 255 bytes");
        return true;
      }
      if (end == std::string::npos) break;
      start = end + 1;
    }
    return false;
  });
  std::sort(refs.begin(), refs.end(),
            [](const RefEntry& a, const RefEntry& b) { return a.name < b.name; });
  refs.erase(std::unique(refs.begin(), refs.end(),
                         [](const RefEntry& a, const RefEntry& b) { return a.name == b.name; }),
             refs.end());

  std::set<std::string> dirs;
  for (const RefEntry& r : refs)
    ForEachParent(r.name, [&](std::string p) { dirs.insert(std::move(p)); });

  auto tree = std::make_shared<Tree>();
  std::unordered_map<std::string, uint64_t> dir_ino;  // path -> ino, for parent links
  Node root;
  root.ino = kRootIno;
  root.parent = kRootIno;
  root.dir = true;
  root.mtime_unix = root_mtime;
  dir_ino[""] = kRootIno;
  tree->nodes_.emplace(kRootIno, std::move(root));

  auto add = [&](Node n) {
    Node& parent = tree->nodes_.at(n.parent);
    parent.children.emplace_back(std::string(BaseName(n.path)), n.ino);
    if (n.dir) ++parent.subdirs;
    tree->nodes_.emplace(n.ino, std::move(n));
  };

  // std::set order puts "a" before "a/b", so a parent always exists first.
  for (const std::string& d : dirs) {
    Node n;
    n.dir = true;
    n.path = d;
    n.ino = inodes.Assign(d, nullptr);
    n.parent = dir_ino.at(ParentPath(d));
    n.mtime_unix = 0;
    dir_ino[d] = n.ino;
    add(std::move(n));
  }
  bool any_file = false;
  for (RefEntry& r : refs) {
    if (dirs.count(r.name) != 0) {
      warn("not shown: '" + r.name + "' is also a directory of other names");
      continue;
    }
    Node n;
    n.path = std::move(r.name);
    n.ino = inodes.Assign(n.path, &r.manifest);
    n.parent = dir_ino.at(ParentPath(n.path));
    n.size = r.size;
    n.data_bytes = r.data_bytes;
    n.mtime_unix = r.mtime_unix;
    n.manifest = r.manifest;
    // A directory's time is its newest file's, so it changes when a name is
    // added below it (and is reproducible, unlike the mount's start time).
    for (uint64_t p = n.parent;; p = tree->nodes_.at(p).parent) {
      Node& dn = tree->nodes_.at(p);
      if (p == kRootIno && !any_file) dn.mtime_unix = n.mtime_unix;
      dn.mtime_unix = std::max(dn.mtime_unix, n.mtime_unix);
      if (p == kRootIno) break;
    }
    any_file = true;
    ++tree->files_;
    tree->total_bytes_ += n.size;
    add(std::move(n));
  }
  inodes.EndBuild();
  for (auto& [ino, n] : tree->nodes_) {
    std::sort(n.children.begin(), n.children.end());
  }
  return tree;
}

const Node* Tree::Find(uint64_t ino) const {
  auto it = nodes_.find(ino);
  return it == nodes_.end() ? nullptr : &it->second;
}

const Node* Tree::Child(const Node& dir, std::string_view name) const {
  auto it = std::lower_bound(dir.children.begin(), dir.children.end(), name,
                             [](const auto& c, std::string_view n) { return c.first < n; });
  if (it == dir.children.end() || it->first != name) return nullptr;
  return Find(it->second);
}

}  // namespace hugeblob::fuse
