import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

/**
 * A JDBC client of the gateway's PostgreSQL listener (pgjdbc as an application or BI tool uses
 * it): one line per result row or error on stdout, tab-separated, for the test to assert on.
 * Args: port, token, purpose, then statements; "prepared:N:SQL" runs SQL as one PreparedStatement
 * N times (pgjdbc switches to a server-prepared statement and binary transfer after 5).
 */
public class Probe {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.setProperty("user", "analyst");
    props.setProperty("password", args[1]);
    props.setProperty("sslmode", "require");
    props.setProperty("options", "-c custodian.purpose=" + args[2]);
    try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + args[0] + "/loans", props)) {
      for (int i = 3; i < args.length; i++) {
        String arg = args[i];
        try {
          if (arg.startsWith("prepared:")) {
            String[] parts = arg.split(":", 3);
            try (PreparedStatement ps = c.prepareStatement(parts[2])) {
              for (int n = 0; n < Integer.parseInt(parts[1]); n++) {
                ps.setInt(1, 1);
                print("run" + n, ps.executeQuery());
              }
            }
          } else {
            try (Statement s = c.createStatement()) {
              print("query", s.executeQuery(arg));
            }
          }
        } catch (SQLException e) {
          System.out.println("error\t" + e.getSQLState() + "\t" + e.getMessage().replace('\n', ' '));
        }
      }
    }
  }

  static void print(String label, ResultSet rs) throws SQLException {
    ResultSetMetaData md = rs.getMetaData();
    while (rs.next()) {
      StringBuilder line = new StringBuilder(label);
      for (int i = 1; i <= md.getColumnCount(); i++) line.append('\t').append(md.getColumnName(i)).append('=').append(rs.getString(i));
      System.out.println(line);
    }
  }
}
