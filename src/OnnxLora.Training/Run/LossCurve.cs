// Draws metrics.jsonl as loss.png with ScottPlot: a loss panel (train loss per step, eval loss at each
// evaluation, legend) above a learning-rate panel; both have ticks and a grid and share the step axis.
// It only reads the metrics and writes the PNG (temp file, then rename); it draws nothing it cannot read
// from metrics.jsonl and skips non-finite values rather than letting them blow up the axis range.
using System.Globalization;
using System.Text.Json;
using ScottPlot;
using SkiaSharp;

namespace OnnxLora.Training.Run;

public static class LossCurve
{
    public const int Width = 900, Height = 640;

    /// <summary>Share of the height given to the loss panel; the lr panel takes the rest.</summary>
    private const float LossPanelShare = 0.66f;

    /// <summary>Series colours (matplotlib's first three), also what the tests look for in the image.</summary>
    internal const string TrainColor = "#1f77b4", EvalColor = "#d62728", LearningRateColor = "#2ca02c";

    /// <summary>Height in pixels of the loss panel; the lr panel spans the rest below it.</summary>
    internal const int LossPanelHeight = (int)(Height * LossPanelShare);

    /// <summary>Left padding of both data areas: tick labels and the y label live in x &lt; PadLeft.</summary>
    internal const float PadLeft = 78;

    /// <summary>The rest of the fixed data-area padding (px): fixed so both panels' data areas line up whatever their tick labels' widths.</summary>
    private const float PadRight = 24, PadBottom = 46, TitlePadTop = 34, PanelPadTop = 12;

    private static readonly Color s_train = Color.FromHex(TrainColor);
    private static readonly Color s_eval = Color.FromHex(EvalColor);
    private static readonly Color s_lr = Color.FromHex(LearningRateColor);

    /// <summary>The series read from metrics.jsonl, each as (step, value) in file order.</summary>
    internal sealed record Series(IReadOnlyList<(double Step, double Value)> Train, IReadOnlyList<(double Step, double Value)> Eval,
        IReadOnlyList<(double Step, double Value)> LearningRate);

    public static void Write(string metricsPath, string pngPath)
    {
        var series = Read(metricsPath);
        var png = Render(series);
        var tmp = pngPath + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            File.WriteAllBytes(tmp, png);
            File.Move(tmp, pngPath, overwrite: true);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    /// <summary>Train loss, eval loss and lr from metrics.jsonl (a missing file gives empty series).</summary>
    internal static Series Read(string metricsPath)
    {
        var train = new List<(double, double)>();
        var eval = new List<(double, double)>();
        var lr = new List<(double, double)>();
        if (!File.Exists(metricsPath))
        {
            return new Series(train, eval, lr);
        }
        int lineNo = 0;
        foreach (var line in File.ReadLines(metricsPath))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            JsonDocument d;
            try
            {
                d = JsonDocument.Parse(line);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{metricsPath}:{lineNo}: not a JSON object ({e.Message})", e);
            }
            using (d)
            {
                var r = d.RootElement;
                if (r.ValueKind != JsonValueKind.Object || !r.TryGetProperty("step", out var stepValue) || stepValue.ValueKind != JsonValueKind.Number)
                {
                    throw new InvalidDataException($"{metricsPath}:{lineNo}: metrics line without a numeric 'step'");
                }
                double step = stepValue.GetDouble();
                Add(train, r, "loss", step);
                Add(eval, r, "eval_loss", step);
                Add(lr, r, "lr", step);
            }
        }
        return new Series(train, eval, lr);
    }

    private static void Add(List<(double, double)> to, JsonElement line, string name, double step)
    {
        if (line.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && double.IsFinite(v.GetDouble()))
        {
            to.Add((step, v.GetDouble()));
        }
    }

    /// <summary>The PNG bytes of both panels, <see cref="Width"/>×<see cref="Height"/>.</summary>
    internal static byte[] Render(Series s)
    {
        PlotFont.EnsureRegistered();
        using var loss = Panel("loss", TitlePadTop);
        using var lr = Panel("learning rate", PanelPadTop);

        if (s.Train.Count > 0)
        {
            var train = loss.Add.ScatterLine(Xs(s.Train), Ys(s.Train), s_train);
            train.LineWidth = 1.5f;
            train.LegendText = "train";
        }
        if (s.Eval.Count > 0)
        {
            var eval = loss.Add.Scatter(Xs(s.Eval), Ys(s.Eval), s_eval);
            eval.LineWidth = 2;
            eval.MarkerSize = 8;
            eval.LegendText = "eval";
        }
        if (s.Train.Count + s.Eval.Count > 0)
        {
            loss.ShowLegend(Alignment.UpperRight);
        }
        if (s.LearningRate.Count > 0)
        {
            var line = lr.Add.ScatterLine(Xs(s.LearningRate), Ys(s.LearningRate), s_lr);
            line.LineWidth = 1.5f;
        }
        // Learning rates are small: "3.0e-03" reads better than ScottPlot's default "0.003" / "1E-05" mix.
        lr.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            LabelFormatter = v => v == 0 ? "0" : v.ToString("0.0e-00", CultureInfo.InvariantCulture),
        };
        lr.XLabel("step");
        loss.Title("training loss");

        // One step range for both panels, so a step sits at the same x in each.
        var steps = s.Train.Concat(s.Eval).Concat(s.LearningRate).Select(p => p.Step).ToList();
        if (steps.Count > 0)
        {
            double x0 = steps.Min(), x1 = Math.Max(steps.Max(), x0 + 1), pad = (x1 - x0) * 0.02;
            loss.Axes.SetLimitsX(x0 - pad, x1 + pad);
            lr.Axes.SetLimitsX(x0 - pad, x1 + pad);
        }

        const int split = LossPanelHeight;
        using var surface = SKSurface.Create(new SKImageInfo(Width, Height))
            ?? throw new InvalidOperationException($"SkiaSharp could not create a {Width}×{Height} surface");
        surface.Canvas.Clear(SKColors.White);
        RenderInto(surface.Canvas, loss, new PixelRect(0, Width, split, 0));
        RenderInto(surface.Canvas, lr, new PixelRect(0, Width, Height, split));
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>Renders one panel clipped to its rectangle (a plot clears the canvas it is given with its background).</summary>
    private static void RenderInto(SKCanvas canvas, Plot plot, PixelRect rect)
    {
        canvas.Save();
        canvas.ClipRect(new SKRect(rect.Left, rect.Top, rect.Right, rect.Bottom));
        plot.Render(canvas, rect);
        canvas.Restore();
    }

    private static Plot Panel(string yLabel, float padTop)
    {
        var p = new Plot();
        p.Font.Set(PlotFont.Name);
        p.YLabel(yLabel);
        p.Layout.Fixed(new PixelPadding(PadLeft, PadRight, PadBottom, padTop));
        return p;
    }

    private static double[] Xs(IReadOnlyList<(double Step, double Value)> s) => s.Select(p => p.Step).ToArray();

    private static double[] Ys(IReadOnlyList<(double Step, double Value)> s) => s.Select(p => p.Value).ToArray();
}
