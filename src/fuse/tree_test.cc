#include "fuse/tree.h"

#include <gtest/gtest.h>

namespace hugeblob::fuse {
namespace {

Hash256 H(uint8_t b) {
  Hash256 h;
  h.bytes.fill(b);
  return h;
}

RefEntry E(std::string name, uint64_t size, int64_t mtime, uint8_t manifest) {
  return RefEntry{std::move(name), size, mtime, H(manifest)};
}

std::vector<std::string> Names(const Tree& t, const Node& dir) {
  std::vector<std::string> out;
  for (const auto& [name, ino] : dir.children) out.push_back(name);
  return out;
}

TEST(TreeTest, EmptyStoreIsAnEmptyRoot) {
  InodeTable inodes;
  auto t = Tree::Build({}, inodes, 42);
  ASSERT_NE(t->Find(kRootIno), nullptr);
  EXPECT_TRUE(t->root().dir);
  EXPECT_TRUE(t->root().children.empty());
  EXPECT_EQ(t->root().mtime_unix, 42);
  EXPECT_EQ(t->files(), 0u);
}

TEST(TreeTest, SlashesMakeDirectories) {
  InodeTable inodes;
  auto t = Tree::Build(
      {E("vm/2026/a.img", 10, 100, 1), E("vm/b.img", 20, 200, 2), E("top", 5, 50, 3)}, inodes, 1);
  EXPECT_EQ(Names(*t, t->root()), (std::vector<std::string>{"top", "vm"}));
  const Node* vm = t->Child(t->root(), "vm");
  ASSERT_NE(vm, nullptr);
  EXPECT_TRUE(vm->dir);
  EXPECT_EQ(vm->parent, kRootIno);
  EXPECT_EQ(Names(*t, *vm), (std::vector<std::string>{"2026", "b.img"}));
  EXPECT_EQ(vm->subdirs, 1u);
  const Node* a = t->Child(*t->Child(*vm, "2026"), "a.img");
  ASSERT_NE(a, nullptr);
  EXPECT_FALSE(a->dir);
  EXPECT_EQ(a->size, 10u);
  EXPECT_EQ(a->path, "vm/2026/a.img");
  EXPECT_EQ(a->manifest, H(1));
  // A directory's time is its newest file's.
  EXPECT_EQ(vm->mtime_unix, 200);
  EXPECT_EQ(t->root().mtime_unix, 200);
  EXPECT_EQ(t->Child(*vm, "2026")->mtime_unix, 100);
  EXPECT_EQ(t->files(), 3u);
  EXPECT_EQ(t->total_bytes(), 35u);
  EXPECT_EQ(t->Child(t->root(), "missing"), nullptr);
}

TEST(TreeTest, InvalidNamesAreLeftOutWithAWarning) {
  InodeTable inodes;
  std::vector<std::string> warnings;
  auto t = Tree::Build({E("ok", 1, 1, 1), E("../escape", 1, 1, 2), E("a//b", 1, 1, 3),
                        E(".hidden", 1, 1, 4), E("a/./b", 1, 1, 5), E("", 1, 1, 6)},
                       inodes, 1, &warnings);
  EXPECT_EQ(Names(*t, t->root()), (std::vector<std::string>{"ok"}));
  EXPECT_EQ(warnings.size(), 5u);
}

TEST(TreeTest, ANameThatIsAlsoADirectoryIsHidden) {
  InodeTable inodes;
  std::vector<std::string> warnings;
  auto t = Tree::Build({E("a", 1, 1, 1), E("a/b", 2, 1, 2)}, inodes, 1, &warnings);
  const Node* a = t->Child(t->root(), "a");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->dir);
  EXPECT_NE(t->Child(*a, "b"), nullptr);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("'a'"), std::string::npos);
}

TEST(TreeTest, InodesAreStableAcrossRebuilds) {
  InodeTable inodes;
  auto t1 = Tree::Build({E("d/x", 1, 1, 1), E("y", 2, 1, 2)}, inodes, 1);
  uint64_t d = t1->Child(t1->root(), "d")->ino;
  uint64_t x = t1->Child(*t1->Child(t1->root(), "d"), "x")->ino;
  uint64_t y = t1->Child(t1->root(), "y")->ino;
  // Order of the input does not matter; a new name gets a new number.
  auto t2 = Tree::Build({E("z", 3, 1, 3), E("y", 2, 1, 2), E("d/x", 1, 1, 1)}, inodes, 1);
  EXPECT_EQ(t2->Child(t2->root(), "d")->ino, d);
  EXPECT_EQ(t2->Child(*t2->Child(t2->root(), "d"), "x")->ino, x);
  EXPECT_EQ(t2->Child(t2->root(), "y")->ino, y);
  uint64_t z = t2->Child(t2->root(), "z")->ino;
  EXPECT_NE(z, d);
  EXPECT_NE(z, x);
  EXPECT_NE(z, y);
  EXPECT_NE(z, kRootIno);
  // An inode of the previous snapshot that is still in the new one resolves
  // to the same path.
  EXPECT_EQ(t2->Find(x)->path, "d/x");
}

TEST(TreeTest, ANamePutAgainGetsANewInode) {
  InodeTable inodes;
  auto t1 = Tree::Build({E("f", 1, 1, 1)}, inodes, 1);
  uint64_t before = t1->Child(t1->root(), "f")->ino;
  auto t2 = Tree::Build({E("f", 1, 2, 9)}, inodes, 1);
  uint64_t after = t2->Child(t2->root(), "f")->ino;
  EXPECT_NE(before, after);
  // The old inode is not in the new snapshot (the kernel gets ENOENT for
  // it, not the new content under cached pages).
  EXPECT_EQ(t2->Find(before), nullptr);
}

TEST(TreeTest, RemovedNamesAreForgottenAndNumbersNotReused) {
  InodeTable inodes;
  auto t1 = Tree::Build({E("a", 1, 1, 1), E("b", 1, 1, 2)}, inodes, 1);
  uint64_t a = t1->Child(t1->root(), "a")->ino;
  auto t2 = Tree::Build({E("b", 1, 1, 2)}, inodes, 1);
  EXPECT_EQ(t2->Find(a), nullptr);
  EXPECT_EQ(inodes.size(), 1u);
  auto t3 = Tree::Build({E("a", 1, 1, 1), E("b", 1, 1, 2)}, inodes, 1);
  EXPECT_NE(t3->Child(t3->root(), "a")->ino, a);
}

TEST(TreeTest, FileBecomingDirectoryGetsANewInode) {
  InodeTable inodes;
  auto t1 = Tree::Build({E("a", 1, 1, 1)}, inodes, 1);
  uint64_t file = t1->Child(t1->root(), "a")->ino;
  auto t2 = Tree::Build({E("a/b", 1, 1, 1)}, inodes, 1);
  const Node* dir = t2->Child(t2->root(), "a");
  ASSERT_NE(dir, nullptr);
  EXPECT_TRUE(dir->dir);
  EXPECT_NE(dir->ino, file);
}

TEST(TreeTest, ManyNamesLookUpByBinarySearch) {
  InodeTable inodes;
  std::vector<RefEntry> refs;
  for (int i = 0; i < 5000; ++i) refs.push_back(E("dir/f" + std::to_string(i), i, i, 1));
  auto t = Tree::Build(refs, inodes, 1);
  const Node* dir = t->Child(t->root(), "dir");
  ASSERT_NE(dir, nullptr);
  EXPECT_EQ(dir->children.size(), 5000u);
  for (int i = 0; i < 5000; i += 97) {
    const Node* n = t->Child(*dir, "f" + std::to_string(i));
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->size, static_cast<uint64_t>(i));
  }
}

}  // namespace
}  // namespace hugeblob::fuse
