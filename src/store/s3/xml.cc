#include "store/s3/xml.h"

#include <cstdint>

namespace hugeblob::s3 {
namespace {

// S3 documents nest three or four levels; anything deeper is not one of them.
constexpr int kMaxDepth = 32;

class Parser {
 public:
  explicit Parser(std::string_view doc) : s_(doc) {}

  Result<XmlNode> Document() {
    HB_TRY(SkipMisc());
    if (AtEnd() || s_[pos_] != '<') return Bad("no root element");
    XmlNode root;
    HB_TRY(Element(&root, 0));
    HB_TRY(SkipMisc());
    if (!AtEnd()) return Bad("content after the root element");
    return root;
  }

 private:
  bool AtEnd() const { return pos_ >= s_.size(); }
  bool StartsWith(std::string_view p) const { return s_.substr(pos_, p.size()) == p; }

  tl::unexpected<Error> Bad(std::string_view what) const {
    return Fail(ErrorCode::kCorruption, "malformed XML from the server (" + std::string(what) +
                                            " at byte " + std::to_string(pos_) + ")");
  }

  void SkipSpace() {
    while (!AtEnd() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r' || s_[pos_] == '\n'))
      ++pos_;
  }

  Status SkipPast(std::string_view terminator) {
    size_t end = s_.find(terminator, pos_);
    if (end == std::string_view::npos) return Bad("unterminated markup");
    pos_ = end + terminator.size();
    return OkStatus();
  }

  // Prolog, comments, doctype and whitespace around the root.
  Status SkipMisc() {
    for (;;) {
      SkipSpace();
      if (StartsWith("<?")) {
        HB_TRY(SkipPast("?>"));
      } else if (StartsWith("<!--")) {
        HB_TRY(SkipPast("-->"));
      } else if (StartsWith("<!")) {
        HB_TRY(SkipPast(">"));
      } else {
        return OkStatus();
      }
    }
  }

  static bool IsNameChar(char c) {
    return c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '>' && c != '/' && c != '=' &&
           c != '<' && c != '"' && c != '\'';
  }

  Result<std::string> Name() {
    size_t start = pos_;
    while (!AtEnd() && IsNameChar(s_[pos_])) ++pos_;
    if (pos_ == start) return Bad("expected a name");
    std::string_view n = s_.substr(start, pos_ - start);
    size_t colon = n.rfind(':');
    if (colon != std::string_view::npos) n = n.substr(colon + 1);
    return std::string(n);
  }

  // Appends the decoded text of s_[start, end) to *out.
  Status Decode(size_t start, size_t end, std::string* out) {
    for (size_t i = start; i < end;) {
      char c = s_[i];
      if (c != '&') {
        out->push_back(c);
        ++i;
        continue;
      }
      size_t semi = s_.find(';', i);
      if (semi == std::string_view::npos || semi >= end || semi - i > 12) {
        pos_ = i;
        return Bad("bad entity");
      }
      std::string_view ent = s_.substr(i + 1, semi - i - 1);
      if (ent == "amp") {
        out->push_back('&');
      } else if (ent == "lt") {
        out->push_back('<');
      } else if (ent == "gt") {
        out->push_back('>');
      } else if (ent == "quot") {
        out->push_back('"');
      } else if (ent == "apos") {
        out->push_back('\'');
      } else if (ent.size() >= 2 && ent[0] == '#') {
        uint32_t cp = 0;
        bool hex = ent[1] == 'x' || ent[1] == 'X';
        std::string_view digits = ent.substr(hex ? 2 : 1);
        if (digits.empty()) {
          pos_ = i;
          return Bad("bad character reference");
        }
        for (char d : digits) {
          int v;
          if (d >= '0' && d <= '9') {
            v = d - '0';
          } else if (hex && d >= 'a' && d <= 'f') {
            v = d - 'a' + 10;
          } else if (hex && d >= 'A' && d <= 'F') {
            v = d - 'A' + 10;
          } else {
            pos_ = i;
            return Bad("bad character reference");
          }
          cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
          if (cp > 0x10FFFF) {
            pos_ = i;
            return Bad("character reference out of range");
          }
        }
        AppendUtf8(cp, out);
      } else {
        pos_ = i;
        return Bad("unknown entity");
      }
      i = semi + 1;
    }
    return OkStatus();
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // At '<' of a start tag.
  Status Element(XmlNode* node, int depth) {
    if (depth > kMaxDepth) return Bad("nesting too deep");
    ++pos_;  // '<'
    HB_ASSIGN_OR_RETURN(node->name, Name());
    // Attributes: skipped, but their quoted values may hold '>' or '/'.
    for (;;) {
      SkipSpace();
      if (AtEnd()) return Bad("unterminated start tag");
      char c = s_[pos_];
      if (c == '/') {
        if (!StartsWith("/>")) return Bad("stray '/' in tag");
        pos_ += 2;
        return OkStatus();
      }
      if (c == '>') {
        ++pos_;
        break;
      }
      HB_TRY(Name());
      SkipSpace();
      if (AtEnd() || s_[pos_] != '=') return Bad("attribute without value");
      ++pos_;
      SkipSpace();
      if (AtEnd() || (s_[pos_] != '"' && s_[pos_] != '\'')) return Bad("unquoted attribute");
      char q = s_[pos_++];
      size_t end = s_.find(q, pos_);
      if (end == std::string_view::npos) return Bad("unterminated attribute");
      pos_ = end + 1;
    }
    // Content.
    for (;;) {
      if (AtEnd()) return Bad("unterminated element <" + node->name + ">");
      if (s_[pos_] != '<') {
        size_t end = s_.find('<', pos_);
        if (end == std::string_view::npos) end = s_.size();
        HB_TRY(Decode(pos_, end, &node->text));
        pos_ = end;
      } else if (StartsWith("</")) {
        pos_ += 2;
        HB_ASSIGN_OR_RETURN(std::string closing, Name());
        if (closing != node->name) return Bad("mismatched </" + closing + ">");
        SkipSpace();
        if (AtEnd() || s_[pos_] != '>') return Bad("bad end tag");
        ++pos_;
        return OkStatus();
      } else if (StartsWith("<![CDATA[")) {
        pos_ += 9;
        size_t end = s_.find("]]>", pos_);
        if (end == std::string_view::npos) return Bad("unterminated CDATA");
        node->text.append(s_.substr(pos_, end - pos_));
        pos_ = end + 3;
      } else if (StartsWith("<!--")) {
        HB_TRY(SkipPast("-->"));
      } else if (StartsWith("<?")) {
        HB_TRY(SkipPast("?>"));
      } else {
        node->children.emplace_back();
        HB_TRY(Element(&node->children.back(), depth + 1));
      }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

const XmlNode* XmlNode::Child(std::string_view child_name) const {
  for (const XmlNode& c : children)
    if (c.name == child_name) return &c;
  return nullptr;
}

std::string XmlNode::ChildText(std::string_view child_name) const {
  const XmlNode* c = Child(child_name);
  return c ? c->text : std::string();
}

std::vector<const XmlNode*> XmlNode::ChildrenNamed(std::string_view child_name) const {
  std::vector<const XmlNode*> out;
  for (const XmlNode& c : children)
    if (c.name == child_name) out.push_back(&c);
  return out;
}

Result<XmlNode> ParseXml(std::string_view doc) { return Parser(doc).Document(); }

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace hugeblob::s3
