package io.keld.node.console;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * A real headless Chromium (the distribution's {@code chromium} and {@code chromium-driver}, which
 * {@code .ci/run} installs) driven by Selenium, for the console's tests. Outside CI a machine without
 * them skips the tests with a note; under {@code CI=true} a missing browser fails them. Nothing is
 * downloaded: the binaries are named explicitly, so Selenium Manager never runs.
 */
final class ConsoleBrowser implements AutoCloseable {

  final ChromeDriver driver;
  final Path downloads;
  final Path screenshots;
  private final WebDriverWait wait;

  private ConsoleBrowser(ChromeDriver driver, Path downloads, Path screenshots) {
    this.driver = driver;
    this.downloads = downloads;
    this.screenshots = screenshots;
    this.wait = new WebDriverWait(driver, Duration.ofSeconds(30));
  }

  static ConsoleBrowser start() throws IOException {
    File chromium = find("KELD_CHROMIUM", "chromium", "chromium-browser", "google-chrome");
    File chromedriver = find("KELD_CHROMEDRIVER", "chromedriver");
    if (chromium == null || chromedriver == null) {
      String note = "the console's browser tests need Chromium and its driver (Debian: apt-get install chromium chromium-driver;"
          + " or KELD_CHROMIUM and KELD_CHROMEDRIVER); found chromium=" + chromium + ", chromedriver=" + chromedriver;
      if ("true".equalsIgnoreCase(System.getenv("CI"))) Assertions.fail(note);
      Assumptions.abort(note);
    }
    Path target = Path.of(System.getProperty("basedir", System.getProperty("user.dir")), "target");
    Path downloads = Files.createTempDirectory("keld-console-downloads");
    Path screenshots = Files.createDirectories(target.resolve("console-screenshots"));

    ChromeOptions options = new ChromeOptions();
    options.setBinary(chromium);
    options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900",
        "--no-first-run", "--disable-extensions", "--disable-background-networking", "--lang=en-US");
    Map<String, Object> prefs = new HashMap<>();
    prefs.put("download.default_directory", downloads.toString());
    prefs.put("download.prompt_for_download", false);
    options.setExperimentalOption("prefs", prefs);
    LoggingPreferences logs = new LoggingPreferences();
    logs.enable(LogType.BROWSER, Level.ALL);
    options.setCapability("goog:loggingPrefs", logs);
    ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(chromedriver).usingAnyFreePort().build();
    ChromeDriver driver = new ChromeDriver(service, options);
    driver.manage().window().setSize(new Dimension(1280, 900));
    return new ConsoleBrowser(driver, downloads, screenshots);
  }

  /** An executable from the environment variable, else the first of the names on the PATH. */
  private static File find(String env, String... names) {
    String given = System.getenv(env);
    if (given != null && !given.isBlank()) return new File(given).canExecute() ? new File(given) : null;
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
      for (String name : names) {
        File f = new File(dir, name);
        if (f.canExecute()) return f;
      }
    }
    return null;
  }

  WebElement await(String css) {
    return wait.until(d -> {
      List<WebElement> found = d.findElements(By.cssSelector(css));
      return found.isEmpty() ? null : found.get(0);
    });
  }

  void awaitTrue(String description, java.util.function.Supplier<Boolean> condition) {
    awaitTrue(description, Duration.ofSeconds(60), condition);
  }

  void awaitTrue(String description, Duration timeout, java.util.function.Supplier<Boolean> condition) {
    // A live view re-renders while it is read: an element gone stale is read again on the next poll.
    new WebDriverWait(driver, timeout).withMessage(description).ignoring(StaleElementReferenceException.class)
        .until(d -> condition.get());
  }

  /** An attribute of the first element that matches, or null when there is none now (no waiting: for conditions polled by awaitTrue). */
  String attributeNow(String css, String attribute) {
    List<WebElement> found = driver.findElements(By.cssSelector(css));
    return found.isEmpty() ? null : found.get(0).getAttribute(attribute);
  }

  /** The text of the first element matching {@code css} now, or null when there is none (no wait). */
  String textNow(String css) {
    List<WebElement> found = driver.findElements(By.cssSelector(css));
    return found.isEmpty() ? null : found.get(0).getText();
  }

  Object js(String script, Object... args) {
    return ((JavascriptExecutor) driver).executeScript(script, args);
  }

  void screenshot(String name) throws IOException {
    Files.write(screenshots.resolve(name + ".png"), driver.getScreenshotAs(OutputType.BYTES));
  }

  /** Errors the page logged since the last call (script errors, failed loads, Content-Security-Policy refusals). */
  List<String> errors() {
    List<String> out = new ArrayList<>();
    for (LogEntry e : driver.manage().logs().get(LogType.BROWSER)) {
      if (e.getLevel().intValue() >= Level.SEVERE.intValue()) out.add(e.getMessage());
    }
    return out;
  }

  void resize(int width, int height) {
    driver.manage().window().setSize(new Dimension(width, height));
  }

  /** Light or dark, as the operating system would ask for it (prefers-color-scheme). */
  void colorScheme(String scheme) {
    driver.executeCdpCommand("Emulation.setEmulatedMedia",
        Map.of("media", "", "features", List.of(Map.of("name", "prefers-color-scheme", "value", scheme))));
  }

  @Override
  public void close() {
    driver.quit();
  }
}
