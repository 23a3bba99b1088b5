package io.keld.atlas.spend.imports;

import java.util.ArrayList;
import java.util.List;

/**
 * CSV as RFC 4180 writes it: fields separated by commas, records by CRLF or LF (a lone CR too);
 * a field in double quotes may hold commas, line breaks and doubled quotes ({@code ""} is one
 * {@code "}). Spreadsheets write exactly this. A record knows the line it starts on (a quoted line
 * break makes a record span lines), so errors name the line a person sees in an editor.
 *
 * <p>A malformed record (text after a closing quote, a quote that is never closed) is returned with
 * its problem instead of failing the file; the reader goes on with the next record.
 */
final class CsvReader {

  /** One record: the line it starts on, its fields, and what is wrong with it (null if nothing). */
  record Row(int line, List<String> fields, String problem) {
    /** A line with nothing on it: no record at all. */
    boolean blank() {
      return problem == null && fields.size() == 1 && fields.get(0).isEmpty();
    }
  }

  private final String text;
  private int pos;
  private int line = 1;

  CsvReader(String text) {
    // A byte order mark (Excel writes one) is not part of the first column's name.
    this.text = text.startsWith("\uFEFF") ? text.substring(1) : text;
  }

  /** The next record, or null at the end of the text. */
  Row next() {
    if (pos >= text.length()) return null;
    int start = line;
    List<String> fields = new ArrayList<>();
    StringBuilder field = new StringBuilder();
    String problem = null;
    boolean quoted = false;
    boolean afterQuote = false;
    while (pos < text.length()) {
      char c = text.charAt(pos++);
      if (quoted) {
        if (c == '"') {
          if (pos < text.length() && text.charAt(pos) == '"') {
            field.append('"');
            pos++;
          } else {
            quoted = false;
            afterQuote = true;
          }
        } else {
          if (c == '\n' || (c == '\r' && !(pos < text.length() && text.charAt(pos) == '\n'))) line++;
          field.append(c);
        }
        continue;
      }
      if (c == ',') {
        fields.add(field.toString());
        field.setLength(0);
        afterQuote = false;
      } else if (c == '\r' || c == '\n') {
        if (c == '\r' && pos < text.length() && text.charAt(pos) == '\n') pos++;
        line++;
        fields.add(field.toString());
        return new Row(start, fields, problem);
      } else if (c == '"' && !afterQuote && field.toString().isBlank()) {
        // Spaces before an opening quote are padding, not part of the field.
        field.setLength(0);
        quoted = true;
      } else if (afterQuote && (c == ' ' || c == '\t')) {
        continue;
      } else if (afterQuote) {
        // "abc"x: RFC 4180 allows nothing between a closing quote and the next comma.
        if (problem == null) problem = "column " + (fields.size() + 1) + ": text after the closing quote";
        field.append(c);
      } else if (c == '"') {
        // ab"c: a quote inside an unquoted field; the field must be quoted, the quote doubled.
        if (problem == null) {
          problem = "column " + (fields.size() + 1) + ": a quote inside an unquoted field (quote the field and double the quote)";
        }
        field.append(c);
      } else {
        field.append(c);
      }
    }
    if (quoted) problem = "column " + (fields.size() + 1) + ": the quoted field is never closed";
    fields.add(field.toString());
    return new Row(start, fields, problem);
  }
}
