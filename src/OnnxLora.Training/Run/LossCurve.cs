// Draws metrics.jsonl's train and eval losses as a PNG line chart. Self-contained: a tiny RGB
// raster and a PNG encoder (zlib via System.IO.Compression), so no native graphics library is needed.
using System.IO.Compression;
using System.Text.Json;

namespace OnnxLora.Training.Run;

public static class LossCurve
{
    private const int Width = 800, Height = 480, Margin = 70;

    public static void Write(string metricsPath, string pngPath)
    {
        var train = new List<(double X, double Y)>();
        var eval = new List<(double X, double Y)>();
        foreach (var line in File.Exists(metricsPath) ? File.ReadLines(metricsPath) : [])
        {
            using var d = JsonDocument.Parse(line);
            var r = d.RootElement;
            double x = r.GetProperty("step").GetDouble();
            if (r.TryGetProperty("loss", out var l))
            {
                train.Add((x, l.GetDouble()));
            }
            if (r.TryGetProperty("eval_loss", out var e))
            {
                eval.Add((x, e.GetDouble()));
            }
        }
        var px = new byte[Width * Height * 3];
        Array.Fill(px, (byte)255);
        var all = train.Concat(eval).Where(p => double.IsFinite(p.Y)).ToList();
        if (all.Count > 0)
        {
            double x0 = all.Min(p => p.X), x1 = Math.Max(all.Max(p => p.X), x0 + 1);
            double y0 = all.Min(p => p.Y), y1 = Math.Max(all.Max(p => p.Y), y0 + 1e-6);
            (int, int) Map((double X, double Y) p) => (
                Margin + (int)((p.X - x0) / (x1 - x0) * (Width - 2 * Margin)),
                Height - Margin - (int)((p.Y - y0) / (y1 - y0) * (Height - 2 * Margin)));
            Line(px, (Margin, Height - Margin), (Width - Margin, Height - Margin), (0, 0, 0));
            Line(px, (Margin, Margin), (Margin, Height - Margin), (0, 0, 0));
            Polyline(px, train.Select(Map).ToList(), (31, 119, 180));
            Polyline(px, eval.Select(Map).ToList(), (214, 39, 40));
            var inv = System.Globalization.CultureInfo.InvariantCulture;
            Text(px, 4, Margin - 2, y1.ToString("0.###", inv), (0, 0, 0));
            Text(px, 4, Height - Margin - 14, y0.ToString("0.###", inv), (0, 0, 0));
            Text(px, Margin, Height - Margin + 8, x0.ToString("0", inv), (0, 0, 0));
            Text(px, Width - Margin - 40, Height - Margin + 8, x1.ToString("0", inv), (0, 0, 0));
            Text(px, Width / 2 - 24, Height - Margin + 8, "step", (0, 0, 0));
            Text(px, 4, Height / 2, "loss", (0, 0, 0));
            Text(px, Width - Margin - 80, 10, "train", (31, 119, 180));
            Text(px, Width - Margin - 80, 28, "eval", (214, 39, 40));
            foreach (var p in eval.Select(Map))
            {
                for (int dy = -3; dy <= 3; dy++)
                {
                    for (int dx = -3; dx <= 3; dx++)
                    {
                        Set(px, p.Item1 + dx, p.Item2 + dy, (214, 39, 40));
                    }
                }
            }
        }
        var tmp = pngPath + ".tmp";
        File.WriteAllBytes(tmp, Png(px));
        File.Move(tmp, pngPath, overwrite: true);
    }

    // A 3×5 bitmap font (rows top to bottom, 3 bits each) for the digits and the few words we draw.
    private static readonly Dictionary<char, int[]> s_glyphs = new()
    {
        ['0'] = [7, 5, 5, 5, 7], ['1'] = [2, 6, 2, 2, 7], ['2'] = [7, 1, 7, 4, 7], ['3'] = [7, 1, 7, 1, 7],
        ['4'] = [5, 5, 7, 1, 1], ['5'] = [7, 4, 7, 1, 7], ['6'] = [7, 4, 7, 5, 7], ['7'] = [7, 1, 1, 1, 1],
        ['8'] = [7, 5, 7, 5, 7], ['9'] = [7, 5, 7, 1, 7], ['.'] = [0, 0, 0, 0, 2], ['-'] = [0, 0, 7, 0, 0],
        ['a'] = [0, 7, 3, 5, 7], ['e'] = [7, 5, 7, 4, 7], ['i'] = [2, 0, 2, 2, 2], ['l'] = [4, 4, 4, 4, 7],
        ['n'] = [0, 6, 5, 5, 5], ['o'] = [0, 7, 5, 5, 7], ['p'] = [7, 5, 7, 4, 4], ['r'] = [0, 7, 4, 4, 4],
        ['s'] = [7, 4, 7, 1, 7], ['t'] = [2, 7, 2, 2, 3], ['v'] = [0, 5, 5, 5, 2], ['E'] = [7, 4, 7, 4, 7],
    };

    private static void Text(byte[] px, int x, int y, string text, (byte, byte, byte) c)
    {
        const int scale = 3;
        foreach (char ch in text)
        {
            if (s_glyphs.TryGetValue(ch, out var rows))
            {
                for (int r = 0; r < 5; r++)
                {
                    for (int b = 0; b < 3; b++)
                    {
                        if ((rows[r] >> (2 - b) & 1) == 0)
                        {
                            continue;
                        }
                        for (int dy = 0; dy < scale; dy++)
                        {
                            for (int dx = 0; dx < scale; dx++)
                            {
                                Set(px, x + b * scale + dx, y + r * scale + dy, c);
                            }
                        }
                    }
                }
            }
            x += 4 * scale;
        }
    }

    private static void Polyline(byte[] px, List<(int, int)> pts, (byte, byte, byte) c)
    {
        for (int i = 1; i < pts.Count; i++)
        {
            Line(px, pts[i - 1], pts[i], c);
        }
    }

    private static void Line(byte[] px, (int X, int Y) a, (int X, int Y) b, (byte, byte, byte) c)
    {
        int n = Math.Max(Math.Abs(b.X - a.X), Math.Abs(b.Y - a.Y)) + 1;
        for (int i = 0; i <= n; i++)
        {
            Set(px, a.X + (b.X - a.X) * i / n, a.Y + (b.Y - a.Y) * i / n, c);
            Set(px, a.X + (b.X - a.X) * i / n, a.Y + 1 + (b.Y - a.Y) * i / n, c);
        }
    }

    private static void Set(byte[] px, int x, int y, (byte R, byte G, byte B) c)
    {
        if (x < 0 || y < 0 || x >= Width || y >= Height)
        {
            return;
        }
        int o = (y * Width + x) * 3;
        (px[o], px[o + 1], px[o + 2]) = c;
    }

    private static byte[] Png(byte[] rgb)
    {
        using var ms = new MemoryStream();
        ms.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BigEndian(ihdr, 0, Width);
        BigEndian(ihdr, 4, Height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // RGB
        Chunk(ms, "IHDR", ihdr);
        using var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (int y = 0; y < Height; y++)
            {
                z.WriteByte(0); // filter: none
                z.Write(rgb, y * Width * 3, Width * 3);
            }
        }
        Chunk(ms, "IDAT", raw.ToArray());
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        var len = new byte[4];
        BigEndian(len, 0, data.Length);
        s.Write(len);
        var body = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(body);
        var crc = new byte[4];
        BigEndian(crc, 0, (int)Crc32(body));
        s.Write(crc);
    }

    private static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte x in data)
        {
            crc ^= x;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }
        return ~crc;
    }

    private static void BigEndian(byte[] b, int o, int v)
    {
        b[o] = (byte)(v >> 24);
        b[o + 1] = (byte)(v >> 16);
        b[o + 2] = (byte)(v >> 8);
        b[o + 3] = (byte)v;
    }
}
