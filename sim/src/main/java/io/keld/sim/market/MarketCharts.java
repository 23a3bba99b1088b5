package io.keld.sim.market;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** The day's charts, drawn headless with JFreeChart as PNG files beside the report. */
public final class MarketCharts {

  static final int WIDTH = 900;
  static final int HEIGHT = 480;

  private MarketCharts() {}

  /** Writes every chart into {@code dir} and returns their file names, in the report's order. */
  public static List<String> write(MarketDay.Result r, Path dir) throws IOException {
    System.setProperty("java.awt.headless", "true");
    List<String> names = new ArrayList<>();
    names.add(save(dir, "cost-by-class.png", costByClass(r)));
    names.add(save(dir, "deadline-hit-rate.png", hitRate(r)));
    names.add(save(dir, "escalations.png", escalations(r)));
    names.add(save(dir, "clearing-price-index.png", priceIndex(r)));
    names.add(save(dir, "provider-utilisation.png", utilisation(r)));
    names.add(save(dir, "revenue-by-strategy.png", revenue(r)));
    return names;
  }

  private static String save(Path dir, String name, JFreeChart chart) throws IOException {
    chart.setBackgroundPaint(Color.WHITE);
    chart.getPlot().setBackgroundPaint(Color.WHITE);
    if (chart.getPlot() instanceof CategoryPlot p) {
      p.setRangeGridlinePaint(Color.LIGHT_GRAY);
      p.getDomainAxis().setMaximumCategoryLabelLines(2);
    } else if (chart.getPlot() instanceof XYPlot p) {
      p.setRangeGridlinePaint(Color.LIGHT_GRAY);
      p.setDomainGridlinePaint(Color.LIGHT_GRAY);
    }
    ChartUtils.saveChartAsPNG(dir.resolve(name).toFile(), chart, WIDTH, HEIGHT);
    return name;
  }

  private static JFreeChart costByClass(MarketDay.Result r) {
    DefaultCategoryDataset d = new DefaultCategoryDataset();
    for (JobClass c : JobClass.DEFAULTS) {
      double list = MarketDay.totals(r.list(), j -> j.jobClass() == c).costMicroUsd();
      d.addValue(100.0, "list price", c.name());
      d.addValue(100 * MarketDay.totals(r.batch(), j -> j.jobClass() == c).costMicroUsd() / list, "batch tier (where its 24 h window fits)", c.name());
      d.addValue(100 * MarketDay.totals(r.router(), j -> j.jobClass() == c).costMicroUsd() / list, "cost-sorting router", c.name());
      d.addValue(100 * MarketDay.totals(r.keld(), j -> j.jobClass() == c).costMicroUsd() / list, "Keld", c.name());
    }
    return ChartFactory.createBarChart("Cost per job class, % of its cost at list price", "job class", "% of list", d,
        PlotOrientation.VERTICAL, true, false, false);
  }

  private static JFreeChart hitRate(MarketDay.Result r) {
    DefaultCategoryDataset d = new DefaultCategoryDataset();
    for (JobClass c : JobClass.DEFAULTS) {
      percentOnTime(d, MarketDay.totals(r.router(), j -> j.jobClass() == c), "cost-sorting router", c.name());
      percentOnTime(d, MarketDay.totals(r.keld(), j -> j.jobClass() == c && j.hasBackup()), "Keld, jobs with a backup", c.name());
      percentOnTime(d, MarketDay.totals(r.keld(), j -> j.jobClass() == c && !j.hasBackup()), "Keld, ceiling under list (no backup)", c.name());
    }
    return ChartFactory.createBarChart("Deadline hit rate, %", "job class", "% of jobs on time", d, PlotOrientation.VERTICAL, true, false, false);
  }

  /** A class with no such jobs has no bar (rather than a bar of NaN). */
  private static void percentOnTime(DefaultCategoryDataset d, MarketDay.Totals t, String series, String column) {
    d.addValue(t.jobs() == 0 ? null : Double.valueOf(100 * t.hitRate()), series, column);
  }

  private static JFreeChart escalations(MarketDay.Result r) {
    DefaultCategoryDataset d = new DefaultCategoryDataset();
    for (JobClass c : JobClass.DEFAULTS) {
      MarketDay.Totals t = MarketDay.totals(r.keld(), j -> j.jobClass() == c);
      d.addValue(100.0 * t.escalated() / Math.max(1, t.jobs()), "jobs escalated to the backup", c.name());
      d.addValue(100.0 * t.listTokens() / Math.max(1, t.tokens()), "tokens served by the backup", c.name());
    }
    return ChartFactory.createBarChart("Escalations to the backup on Keld, %", "job class", "%", d, PlotOrientation.VERTICAL, true, false, false);
  }

  private static JFreeChart priceIndex(MarketDay.Result r) {
    XYSeriesCollection d = new XYSeriesCollection();
    for (Map.Entry<String, long[][]> e : r.keldLedger().clearingByHour().entrySet()) {
      XYSeries s = new XYSeries(e.getKey());
      for (int h = 0; h < 24; h++) {
        long[] c = e.getValue()[h];
        if (c[1] > 0) s.add(h + 0.5, 100.0 * c[0] / c[1]);
      }
      d.addSeries(s);
    }
    return ChartFactory.createXYLineChart("Keld clearing price index by use case (list price = 100)", "hour of the day (UTC)", "index",
        d, PlotOrientation.VERTICAL, true, false, false);
  }

  private static JFreeChart utilisation(MarketDay.Result r) {
    double[][] keld = MarketDay.utilisationByHour(r, r.keldLedger());
    double[][] router = MarketDay.utilisationByHour(r, r.routerLedger());
    XYSeries before = new XYSeries("own customers only");
    XYSeries withKeld = new XYSeries("with Keld's work");
    XYSeries withRouter = new XYSeries("with the router's work");
    for (int h = 0; h < 24; h++) {
      before.add(h + 0.5, 100 * keld[0][h]);
      withKeld.add(h + 0.5, 100 * keld[1][h]);
      withRouter.add(h + 0.5, 100 * router[1][h]);
    }
    XYSeriesCollection d = new XYSeriesCollection();
    d.addSeries(before);
    d.addSeries(withKeld);
    d.addSeries(withRouter);
    return ChartFactory.createXYLineChart("Provider utilisation, all fleets, %", "hour of the day (UTC)", "% of capacity busy",
        d, PlotOrientation.VERTICAL, true, false, false);
  }

  private static JFreeChart revenue(MarketDay.Result r) {
    DefaultCategoryDataset d = new DefaultCategoryDataset();
    MarketDay.revenueByStrategy(r.market(), r.keldLedger()).forEach((k, v) -> d.addValue(dollars(v), "on Keld", k));
    MarketDay.revenueByStrategy(r.market(), r.routerLedger()).forEach((k, v) -> d.addValue(dollars(v), "through the router", k));
    return ChartFactory.createBarChart("Provider revenue by strategy, USD", "strategy", "USD", d, PlotOrientation.VERTICAL, true, false, false);
  }

  static double dollars(long microUsd) {
    return microUsd / 1e6;
  }
}
