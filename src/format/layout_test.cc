#include "format/layout.h"

#include <gtest/gtest.h>

#include <string>

#include "format/format_test_util.h"

namespace hugeblob {
namespace {

using format_test::Filled;

TEST(LayoutTest, Keys) {
  Hash256 id =
      *Hash256::FromHex("ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd");
  EXPECT_EQ(PackKey(id), "packs/ab/" + id.Hex());
  EXPECT_EQ(IndexKey(id), "index/" + id.Hex());
  EXPECT_EQ(ManifestKey(id), "manifests/" + id.Hex());
  EXPECT_EQ(RefKey("vm/2026-11-22"), "refs/vm/2026-11-22");
}

TEST(LayoutTest, IdFromKeyRoundTrips) {
  Hash256 id = Filled(0x5e);
  for (const std::string& key : {PackKey(id), IndexKey(id), ManifestKey(id)}) {
    auto parsed = IdFromKey(key);
    ASSERT_TRUE(parsed) << key << ": " << parsed.error().message();
    EXPECT_EQ(*parsed, id);
  }
}

TEST(LayoutTest, IdFromKeyRejects) {
  std::string hex = Filled(0x5e).Hex();
  for (const std::string& key : {
           std::string(""),
           std::string("packs/"),
           "packs/" + hex,                      // no directory
           "packs/5f/" + hex,                   // wrong directory
           "packs/5e/" + hex + "x",             // trailing byte
           "packs/5e/" + hex.substr(1),         // short
           "index/" + hex.substr(0, 63) + "E",  // upper case
           "index/" + hex + "/",
           "manifests/../" + hex,
           "refs/" + hex,
           std::string("config"),
       }) {
    auto parsed = IdFromKey(key);
    ASSERT_FALSE(parsed) << key;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(LayoutTest, NameFromRefKey) {
  EXPECT_EQ(NameFromRefKey("refs/vm/1"), "vm/1");
  EXPECT_EQ(NameFromRefKey(RefKey("a")), "a");
  EXPECT_EQ(NameFromRefKey("refs/"), "");
  EXPECT_EQ(NameFromRefKey("manifests/x"), "");
  EXPECT_EQ(NameFromRefKey("ref"), "");
}

TEST(LayoutTest, ValidateNameAccepts) {
  for (std::string_view name : {
           "a",
           "vm.img",
           "vm/2026-11-22",
           "a/b/c/d/e",
           "weights/llama-3.1-8b/model.safetensors",
           "x..y",
           "a./b..",
           "with space",
           "~user",
           "a-b_c+d=e,f@g:h",
           "UPPER/lower/123",
       }) {
    EXPECT_TRUE(ValidateName(name)) << name;
  }
  EXPECT_TRUE(ValidateName(std::string(1024, 'x')));
}

TEST(LayoutTest, ValidateNameRejects) {
  for (std::string_view name : {
           std::string_view(""),
           std::string_view("/abs"),
           std::string_view("/"),
           std::string_view("trailing/"),
           std::string_view("a//b"),
           std::string_view("."),
           std::string_view(".."),
           std::string_view("../escape"),
           std::string_view("a/../b"),
           std::string_view("a/.."),
           std::string_view("a/./b"),
           std::string_view(".hidden"),
           std::string_view("dir/.tmp-123"),
           std::string_view("back\\slash"),
           std::string_view("..\\..\\x"),
           std::string_view("tab\there"),
           std::string_view("new\nline"),
           std::string_view("nul\0byte", 8),
           std::string_view("del\x7f"),
           std::string_view("caf\xc3\xa9"),
       }) {
    auto st = ValidateName(name);
    ASSERT_FALSE(st) << name;
    EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
    // Control bytes never reach the message raw.
    for (char c : st.error().message()) EXPECT_GE(static_cast<unsigned char>(c), 0x20);
  }
  EXPECT_FALSE(ValidateName(std::string(1025, 'x')));
}

}  // namespace
}  // namespace hugeblob
