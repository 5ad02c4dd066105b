// The tojson filter as transformers defines it: Python json.dumps(x, ensure_ascii=False, indent=indent), so
// ", " and ": " separators without indent, keys in insertion order, non-ASCII text kept as is.
// It only serializes template values; reading JSON is done with System.Text.Json elsewhere.
using System.Globalization;
using System.Text;

namespace OnnxLora.Models.Chat.Jinja;

internal static class PyJson
{
    public static string Dumps(object? value, int? indent, int line)
    {
        var sb = new StringBuilder();
        Write(sb, value, indent, 0, line);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? v, int? indent, int depth, int line)
    {
        switch (v)
        {
            case null or Undefined:
                sb.Append("null");
                break;
            case bool b:
                sb.Append(b ? "true" : "false");
                break;
            case long l:
                sb.Append(l.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : JinjaValues.FormatFloat(d));
                break;
            case string s:
                WriteString(sb, s);
                break;
            case List<object?> list:
                WriteItems(sb, '[', ']', list.Count, indent, depth, i => Write(sb, list[i], indent, depth + 1, line));
                break;
            case Dictionary<string, object?> dict:
            {
                var entries = dict.ToList();
                WriteItems(sb, '{', '}', entries.Count, indent, depth, i =>
                {
                    WriteString(sb, entries[i].Key);
                    sb.Append(": ");
                    Write(sb, entries[i].Value, indent, depth + 1, line);
                });
                break;
            }
            default:
                throw new JinjaException(line, $"tojson: {JinjaValues.TypeName(v)} is not JSON serializable");
        }
    }

    private static void WriteItems(StringBuilder sb, char open, char close, int count, int? indent, int depth, Action<int> item)
    {
        sb.Append(open);
        if (count == 0)
        {
            sb.Append(close);
            return;
        }
        for (int i = 0; i < count; i++)
        {
            if (indent is { } n)
            {
                sb.Append(i == 0 ? "\n" : ",\n").Append(' ', n * (depth + 1));
            }
            else if (i > 0)
            {
                sb.Append(", ");
            }
            item(i);
        }
        if (indent is { } m)
        {
            sb.Append('\n').Append(' ', m * depth);
        }
        sb.Append(close);
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20)
                    {
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }
                    break;
            }
        }
        sb.Append('"');
    }
}
