package io.keld.atlas.spend.imports;

import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.List;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;

/**
 * CSV as RFC 4180 writes it, read with Apache Commons CSV: fields separated by commas, records by
 * CRLF or LF (a lone CR too); a field in double quotes may hold commas, line breaks and doubled
 * quotes ({@code ""} is one {@code "}). Spreadsheets write exactly this. Spaces around a field are
 * padding; a quote inside an unquoted field is an ordinary character. A record knows the line it
 * starts on (a quoted line break makes a record span lines), so errors name the line a person sees
 * in an editor.
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

  /** Empty lines come back as records so that line numbers stay exact; {@link Row#blank()} tells them. */
  private static final CSVFormat FORMAT = CSVFormat.RFC4180.builder().setIgnoreSurroundingSpaces(true).get();
  /** The same, reading an unclosed quote to the end of the text: only to locate a malformed field. */
  private static final CSVFormat TO_THE_END = FORMAT.builder().setLenientEof(true).get();

  private final String text;
  private final CSVParser parser;
  private final Iterator<CSVRecord> records;
  /** A line and the offset it starts at, moved forward as records are read (lines are only looked up ahead). */
  private int knownLine = 1;
  private int knownLineStart;

  CsvReader(String text) {
    // A byte order mark (Excel writes one) is not part of the first column's name.
    this.text = text.startsWith("\uFEFF") ? text.substring(1) : text;
    try {
      this.parser = CSVParser.builder().setReader(new StringReader(this.text)).setFormat(FORMAT).get();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a StringReader does not fail
    }
    this.records = parser.iterator();
  }

  /** The next record, or null at the end of the text. */
  Row next() {
    // Every line break read so far ended a line before this record: the record starts on the next.
    int line = (int) parser.getCurrentLineNumber() + 1;
    try {
      return records.hasNext() ? new Row(line, records.next().toList(), null) : null;
    } catch (UncheckedIOException malformed) {
      int stoppedOn = (int) parser.getCurrentLineNumber();
      String problem = problem(text.substring(lineStart(line), lineStart(stoppedOn + 1)));
      skipRestOfRecord();
      return new Row(line, List.of(), problem);
    }
  }

  /** After a malformed field the parser goes on from there: what it reads up to the record's end is no record. */
  private void skipRestOfRecord() {
    while (true) {
      try {
        if (records.hasNext()) records.next();
        return;
      } catch (UncheckedIOException stillMalformed) {
        // Another malformed field of the same record.
      }
    }
  }

  /**
   * What is wrong with a record the parser refused, and in which column. Commons CSV says that a
   * record is malformed, not where: the longest prefix it still reads ends at the offending character.
   */
  private static String problem(String record) {
    int whole = fieldCount(record);
    if (whole >= 0) return "column " + whole + ": the quoted field is never closed";
    int reads = 0;
    int fails = record.length();
    while (fails - reads > 1) {
      int mid = (reads + fails) >>> 1;
      if (fieldCount(record.substring(0, mid)) >= 0) reads = mid;
      else fails = mid;
    }
    return "column " + Math.max(1, fieldCount(record.substring(0, reads))) + ": text after the closing quote";
  }

  /** The number of fields of the text's first record, reading an unclosed quote to the end; -1 if malformed. */
  private static int fieldCount(String record) {
    try (CSVParser p = CSVParser.builder().setReader(new StringReader(record)).setFormat(TO_THE_END).get()) {
      Iterator<CSVRecord> it = p.iterator();
      return it.hasNext() ? it.next().size() : 0;
    } catch (IOException | UncheckedIOException e) {
      return -1;
    }
  }

  /** The offset at which the 1-based line starts, or the text's length past its last line. */
  private int lineStart(int line) {
    while (knownLine < line && knownLineStart < text.length()) {
      int i = knownLineStart;
      while (i < text.length() && text.charAt(i) != '\n' && text.charAt(i) != '\r') i++;
      if (i < text.length() - 1 && text.charAt(i) == '\r' && text.charAt(i + 1) == '\n') i++;
      knownLineStart = Math.min(i + 1, text.length());
      knownLine++;
    }
    return knownLine < line ? text.length() : knownLineStart;
  }
}
