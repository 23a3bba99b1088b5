package io.keld.testkit;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/** Reads every column of every table in the test database, journal payloads included, as text and bytes. */
public final class DatabaseScan {

  private DatabaseScan() {}

  /**
   * The {@code table.column} of every cell that holds one of {@code needles}; fails if the scan read
   * too little to mean anything or misses a table that must be there.
   */
  public static List<String> cellsHolding(TestDatabase db, List<String> needles, List<String> tablesThatMustExist) throws Exception {
    List<String> hits = new ArrayList<>();
    int cellsRead = 0;
    try (Connection c = db.connect()) {
      List<String> tables = new ArrayList<>();
      DatabaseMetaData meta = c.getMetaData();
      try (ResultSet rs = meta.getTables(null, c.getSchema(), "%", new String[] {"TABLE"})) {
        while (rs.next()) tables.add(rs.getString("TABLE_NAME"));
      }
      assertTrue(tables.containsAll(tablesThatMustExist), "tables found: " + tables);
      for (String table : tables) {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT * FROM \"" + table + "\"")) {
          int columns = rs.getMetaData().getColumnCount();
          while (rs.next()) {
            for (int i = 1; i <= columns; i++) {
              Object v = rs.getObject(i);
              if (v == null) continue;
              cellsRead++;
              String text = v instanceof byte[] bytes ? new String(bytes, StandardCharsets.ISO_8859_1) : v.toString();
              for (String needle : needles) {
                if (text.contains(needle)) hits.add(table + "." + rs.getMetaData().getColumnName(i));
              }
            }
          }
        }
      }
    }
    assertTrue(cellsRead > 50, "the scan read the tables (" + cellsRead + " cells)");
    return hits;
  }
}
