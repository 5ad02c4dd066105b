// The tojson filter as transformers defines it: Python json.dumps(x, ensure_ascii=False, indent=, separators=), so
// ", " and ": " separators by default (", " becomes "," with indent), keys in insertion order, non-ASCII kept as is.
// It only serializes template values; reading JSON is done with System.Text.Json elsewhere.
using System.Globalization;
using System.Text;

namespace OnnxLora.Models.Chat.Jinja;

internal static class PyJson
{
    public static string Dumps(object? value, int? indent, int line, (string Item, string Key)? separators = null,
        bool ensureAscii = false, bool sortKeys = false)
    {
        var sb = new StringBuilder();
        // json.dumps defaults: (", ", ": ") without indent, (",", ": ") with it.
        var (item, key) = separators ?? (indent is null ? (", ", ": ") : (",", ": "));
        new Writer(sb, indent, item, key, line, ensureAscii, sortKeys).Write(value, 0);
        return sb.ToString();
    }

    private sealed class Writer(StringBuilder sb, int? indent, string itemSep, string keySep, int line, bool ensureAscii, bool sortKeys)
    {
        public void Write(object? v, int depth)
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
                    WriteString(sb, s, ensureAscii);
                    break;
                case List<object?> list:
                    WriteItems('[', ']', list.Count, depth, i => Write(list[i], depth + 1));
                    break;
                case Dictionary<string, object?> dict:
                {
                    var entries = sortKeys ? dict.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList() : dict.ToList();
                    WriteItems('{', '}', entries.Count, depth, i =>
                    {
                        WriteString(sb, entries[i].Key, ensureAscii);
                        sb.Append(keySep);
                        Write(entries[i].Value, depth + 1);
                    });
                    break;
                }
                default:
                    throw new JinjaException(line, $"tojson: {JinjaValues.TypeName(v)} is not JSON serializable");
            }
        }

        private void WriteItems(char open, char close, int count, int depth, Action<int> item)
        {
            sb.Append(open);
            if (count == 0)
            {
                sb.Append(close);
                return;
            }
            for (int i = 0; i < count; i++)
            {
                if (i > 0)
                {
                    sb.Append(itemSep);
                }
                if (indent is { } n)
                {
                    sb.Append('\n').Append(' ', n * (depth + 1));
                }
                item(i);
            }
            if (indent is { } m)
            {
                sb.Append('\n').Append(' ', m * depth);
            }
            sb.Append(close);
        }
    }

    private static void WriteString(StringBuilder sb, string s, bool ensureAscii)
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
                    if (c < 0x20 || (ensureAscii && c > 0x7F))
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
