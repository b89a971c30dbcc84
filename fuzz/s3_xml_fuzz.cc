// Fuzzes the S3 XML reader (ParseXml), which reads what a network peer sends:
// any input must give a tree or kCorruption, never a crash, a hang or deep
// recursion. Checked property: the text of every element survives
// XmlEscape and a second parse unchanged (what the client escapes into a
// request body is what a server reading it back gets).
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "store/s3/xml.h"

namespace hugeblob {
namespace {

void WriteSeeds(const std::string& dir) {
  const char* seeds[] = {
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
      "<Prefix>p/</Prefix><IsTruncated>true</IsTruncated><NextContinuationToken>t&amp;1"
      "</NextContinuationToken><Contents><Key>p/a&lt;b</Key><LastModified>"
      "2026-11-22T10:00:00.000Z</LastModified><Size>42</Size></Contents></ListBucketResult>",
      "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>abc</UploadId>"
      "</InitiateMultipartUploadResult>",
      "<Error><Code>SlowDown</Code><Message>Please &#x52;educe your &#82;ate"
      "<![CDATA[<raw>]]></Message><RequestId>1</RequestId></Error>",
      "<!-- c --><a><b/><c x='1'>t</c></a>",
  };
  int n = 0;
  for (std::string_view s : seeds) {
    fuzz::WriteSeed(dir, "xml" + std::to_string(n++),
                    {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  }
}

void CheckText(const s3::XmlNode& node) {
  auto again = s3::ParseXml("<a>" + s3::XmlEscape(node.text) + "</a>");
  if (again && again->text != node.text) __builtin_trap();
  for (const s3::XmlNode& child : node.children) CheckText(child);
}

}  // namespace
}  // namespace hugeblob

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hugeblob::fuzz::MaybeWriteSeeds(hugeblob::WriteSeeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hugeblob;
  auto root = s3::ParseXml({reinterpret_cast<const char*>(data), size});
  if (!root) {
    if (root.error().code() != ErrorCode::kCorruption) __builtin_trap();
    return 0;
  }
  CheckText(*root);
  return 0;
}
