// A small XML reader for the flat documents S3 answers with
// (ListBucketResult, InitiateMultipartUploadResult, Error, ...). It builds a
// tree of elements with their decoded text; attributes, namespaces and
// processing instructions are skipped. It refuses malformed input and deep
// nesting with kCorruption instead of guessing, and never reads past the
// input. Not a general XML parser: no DTDs, no external entities.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hugeblob/error.h"

namespace hugeblob::s3 {

struct XmlNode {
  std::string name;  // local name, without any "ns:" prefix
  std::string text;  // the decoded character data directly inside this element
  std::vector<XmlNode> children;

  // The first child with this name, or nullptr.
  const XmlNode* Child(std::string_view child_name) const;
  // The text of the first child with this name, or "" if there is none.
  std::string ChildText(std::string_view child_name) const;
  std::vector<const XmlNode*> ChildrenNamed(std::string_view child_name) const;
};

// Parses a document and returns its root element.
Result<XmlNode> ParseXml(std::string_view doc);

// Escapes &, <, >, " and ' for element text.
std::string XmlEscape(std::string_view s);

}  // namespace hugeblob::s3
