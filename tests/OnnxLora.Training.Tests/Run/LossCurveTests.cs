// loss.png as the trainer writes it: a PNG of the declared size whose loss panel shows the train and eval
// series and whose lower panel shows the learning rate, with tick labels drawn in the embedded font (not a
// system one); and metrics.jsonl read with non-finite values skipped and a malformed line named by file:line.
using OnnxLora.Training.Config;
using OnnxLora.Training.Data;
using OnnxLora.Training.Run;
using SkiaSharp;

namespace OnnxLora.Training.Tests.Run;

public sealed class LossCurveTests
{
    /// <summary>Per-channel slack when looking for a series colour (anti-aliased line edges blend with white).</summary>
    private const int ColourSlack = 24;

    /// <summary>Fewest pixels of a colour that count as "the series is drawn" (a 1.5 px line over the panel has hundreds).</summary>
    private const int MinSeriesPixels = 40;

    [Fact]
    public void TrainerWritesAPngWithTrainAndEvalLossAndALearningRatePanel()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir["pirate.jsonl"], EmbeddedDatasets.Pirate().Split('\n', StringSplitOptions.RemoveEmptyEntries).Take(24));
        var config = new TrainConfig
        {
            Model = Fixture.Base, Data = dir["pirate.jsonl"], Output = dir["run"], MaxSteps = 6, BatchSize = 2, MaxSeqLen = 64,
            Lr = 1e-3, Schedule = "cosine", WarmupSteps = 2, ValSplit = 0.25, EvalEvery = 3, Seed = 3, Lora = new LoraConfig { R = 4, Alpha = 8 },
        };
        Assert.True(new Trainer(config, dir["run"]).Run().Completed);

        var png = File.ReadAllBytes(Path.Combine(dir["run"], Trainer.LossCurveFile));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(LossCurve.Width, BigEndian(png, 16));
        Assert.Equal(LossCurve.Height, BigEndian(png, 20));
        Assert.Empty(Directory.GetFiles(dir["run"], "*.tmp-*"));

        var series = LossCurve.Read(Path.Combine(dir["run"], Trainer.MetricsFile));
        Assert.Equal(6, series.Train.Count);
        Assert.Equal(6, series.LearningRate.Count);
        Assert.Equal([0.0, 3.0, 6.0], series.Eval.Select(p => p.Step)); // before, every 3 steps, after

        using var image = SKBitmap.Decode(png);
        int top = LossCurve.LossPanelHeight;
        Assert.True(Count(image, LossCurve.TrainColor, 0, top) >= MinSeriesPixels, "train loss is not drawn in the loss panel");
        Assert.True(Count(image, LossCurve.EvalColor, 0, top) >= MinSeriesPixels, "eval loss is not drawn in the loss panel");
        Assert.True(Count(image, LossCurve.LearningRateColor, top, LossCurve.Height) >= MinSeriesPixels, "lr is not drawn in the lower panel");
        Assert.True(Count(image, LossCurve.LearningRateColor, 0, top) == 0, "lr leaked into the loss panel");
        Assert.True(DarkPixels(image, 0, (int)LossCurve.PadLeft - 8) > 200, "no tick labels left of the axes");
    }

    [Fact]
    public void PlotFontIsTheEmbeddedSubsetNotASystemFont()
    {
        LossCurve.Render(new LossCurve.Series([(1, 2.0), (2, 1.5)], [], [(1, 1e-3), (2, 5e-4)]));
        var typeface = ScottPlot.Fonts.GetTypeface(PlotFont.Name, false, false);
        Assert.Equal("DejaVu Sans", typeface.FamilyName);
        Assert.InRange(typeface.GlyphCount, 150, 400); // the Latin-1 subset; a system DejaVu Sans has ~6000 glyphs
    }

    [Fact]
    public void ReadSkipsNonFiniteValuesAndKeepsFileOrder()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir["metrics.jsonl"],
        [
            """{"step":0,"eval_loss":3.5,"eval_ppl":33.1}""",
            """{"step":1,"loss":3.0,"lr":0.001,"grad_norm":1.2}""",
            "",
            """{"step":2,"loss":"NaN","lr":0.002}""",
            """{"step":2,"eval_loss":2.5}""",
        ]);
        var s = LossCurve.Read(dir["metrics.jsonl"]);
        Assert.Equal([(1.0, 3.0)], s.Train);
        Assert.Equal([(0.0, 3.5), (2.0, 2.5)], s.Eval);
        Assert.Equal([(1.0, 0.001), (2.0, 0.002)], s.LearningRate);
    }

    [Fact]
    public void MalformedMetricsLineIsNamedByFileAndLine()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir["metrics.jsonl"], ["""{"step":1,"loss":3.0}""", """{"step":2,"lo"""]);
        var e = Assert.Throws<InvalidDataException>(() => LossCurve.Write(dir["metrics.jsonl"], dir["loss.png"]));
        Assert.Contains("metrics.jsonl:2:", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(dir["loss.png"]));
    }

    private static int BigEndian(byte[] b, int at) => (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];

    /// <summary>Pixels in rows [y0, y1) within <see cref="ColourSlack"/> of <paramref name="hex"/> in every channel.</summary>
    private static int Count(SKBitmap image, string hex, int y0, int y1)
    {
        var c = SKColor.Parse(hex);
        int n = 0;
        for (int y = y0; y < y1; y++)
        {
            for (int x = 0; x < image.Width; x++)
            {
                var p = image.GetPixel(x, y);
                if (Math.Abs(p.Red - c.Red) <= ColourSlack && Math.Abs(p.Green - c.Green) <= ColourSlack && Math.Abs(p.Blue - c.Blue) <= ColourSlack)
                {
                    n++;
                }
            }
        }
        return n;
    }

    /// <summary>Near-black pixels in columns [x0, x1) over the whole height (text; the axes frame starts at PadLeft).</summary>
    private static int DarkPixels(SKBitmap image, int x0, int x1)
    {
        int n = 0;
        for (int y = 0; y < image.Height; y++)
        {
            for (int x = x0; x < x1; x++)
            {
                var p = image.GetPixel(x, y);
                if (p.Red < 100 && p.Green < 100 && p.Blue < 100)
                {
                    n++;
                }
            }
        }
        return n;
    }
}
