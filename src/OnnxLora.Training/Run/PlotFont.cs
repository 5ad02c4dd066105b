// The one typeface loss.png is drawn with: a DejaVu Sans subset (Latin-1, see tools/plot-font) embedded in this
// assembly and handed to ScottPlot as a font resolver, so tick labels render on a machine with no system fonts.
// It answers only its own family name (any weight or slant); every other name falls through to ScottPlot.
using ScottPlot;
using SkiaSharp;

namespace OnnxLora.Training.Run;

internal sealed class PlotFont : IFontResolver
{
    /// <summary>The family name plots ask for; unique so a system "DejaVu Sans" never shadows it.</summary>
    public const string Name = "OnnxLora DejaVu Sans";

    private const string Resource = "OnnxLora.Training.Run.Fonts.DejaVuSans-Subset.ttf";
    private static readonly Lock s_registerLock = new();
    private static bool s_registered;

    private readonly SKTypeface _typeface;

    private PlotFont(SKTypeface typeface) => _typeface = typeface;

    /// <summary>Adds the resolver to ScottPlot's process-wide list once; later calls do nothing.</summary>
    public static void EnsureRegistered()
    {
        lock (s_registerLock)
        {
            if (s_registered)
            {
                return;
            }
            using var stream = typeof(PlotFont).Assembly.GetManifestResourceStream(Resource)
                ?? throw new InvalidOperationException($"embedded font '{Resource}' is missing from {typeof(PlotFont).Assembly.GetName().Name}");
            var typeface = SKTypeface.FromStream(stream)
                ?? throw new InvalidOperationException($"embedded font '{Resource}' could not be read by SkiaSharp");
            Fonts.FontResolvers.Insert(0, new PlotFont(typeface));
            s_registered = true;
        }
    }

    public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) =>
        fontName == Name ? _typeface : null;

    public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing width) =>
        fontName == Name ? _typeface : null;
}
