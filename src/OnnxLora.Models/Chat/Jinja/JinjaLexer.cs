// Splits a Jinja template into text and tag tokens, applying the whitespace rules transformers compiles chat
// templates with (trim_blocks=True, lstrip_blocks=True, plus "-"/"+" markers), and tokenizes tag contents.
// It does not parse: JinjaParser builds the tree from these tokens.
using System.Globalization;
using System.Text;

namespace OnnxLora.Models.Chat.Jinja;

internal enum TokenKind
{
    Text,
    VariableStart, // {{
    VariableEnd,   // }}
    BlockStart,    // {%
    BlockEnd,      // %}
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
}

internal readonly record struct Token(TokenKind Kind, string Value, int Line);

internal static class JinjaLexer
{
    private static readonly string[] s_operators =
        ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"];

    public static List<Token> Tokenize(string source)
    {
        var tokens = new List<Token>();
        int pos = 0;
        int line = 1;
        bool trimNextText = false;      // "-" on the previous closing tag
        bool dropNextNewline = false;   // trim_blocks after a block/comment tag
        while (pos < source.Length)
        {
            int open = FindTagStart(source, pos);
            string text = source[pos..(open < 0 ? source.Length : open)];
            if (dropNextNewline)
            {
                text = text.StartsWith("\r\n", StringComparison.Ordinal) ? text[2..] : text.StartsWith('\n') ? text[1..] : text;
            }
            if (trimNextText)
            {
                text = text.TrimStart();
            }
            trimNextText = dropNextNewline = false;
            if (open < 0)
            {
                AddText(tokens, text, line);
                line += CountLines(source, pos, source.Length);
                break;
            }
            char kind = source[open + 1];
            char marker = open + 2 < source.Length ? source[open + 2] : '\0';
            if (marker == '-')
            {
                text = text.TrimEnd();
            }
            else if (kind != '{' && marker != '+')
            {
                text = LstripBlock(text);
            }
            AddText(tokens, text, line);
            line += CountLines(source, pos, open);
            int bodyStart = open + 2 + (marker is '-' or '+' ? 1 : 0);

            if (kind == '#')
            {
                int close = source.IndexOf("#}", bodyStart, StringComparison.Ordinal);
                if (close < 0)
                {
                    throw new JinjaException(line, "comment is not closed (missing '#}')");
                }
                trimNextText = source[close - 1] == '-';
                dropNextNewline = source[close - 1] != '+';
                line += CountLines(source, open, close + 2);
                pos = close + 2;
                continue;
            }

            if (kind == '%' && IsRawStart(source, bodyStart, out int rawBodyStart, out bool rawTrim))
            {
                pos = ReadRaw(source, rawBodyStart, rawTrim, tokens, ref line, out trimNextText, out dropNextNewline);
                continue;
            }

            tokens.Add(new Token(kind == '{' ? TokenKind.VariableStart : TokenKind.BlockStart, "", line));
            pos = TokenizeTag(source, bodyStart, kind == '{' ? '}' : '%', tokens, ref line, out bool minus, out bool plus);
            trimNextText = minus;
            dropNextNewline = kind == '%' && !plus;
        }
        tokens.Add(new Token(TokenKind.End, "", line));
        return tokens;
    }

    private static int FindTagStart(string s, int from)
    {
        for (int i = s.IndexOf('{', from); i >= 0 && i + 1 < s.Length; i = s.IndexOf('{', i + 1))
        {
            if (s[i + 1] is '{' or '%' or '#')
            {
                return i;
            }
        }
        return -1;
    }

    private static void AddText(List<Token> tokens, string text, int line)
    {
        if (text.Length > 0)
        {
            tokens.Add(new Token(TokenKind.Text, text, line));
        }
    }

    // lstrip_blocks: spaces and tabs between the start of a line and a block tag are removed.
    private static string LstripBlock(string text)
    {
        int i = text.Length;
        while (i > 0 && text[i - 1] is ' ' or '\t')
        {
            i--;
        }
        return i == 0 || text[i - 1] == '\n' ? text[..i] : text;
    }

    private static int CountLines(string s, int from, int to)
    {
        int n = 0;
        for (int i = from; i < to && i < s.Length; i++)
        {
            n += s[i] == '\n' ? 1 : 0;
        }
        return n;
    }

    private static bool IsRawStart(string s, int bodyStart, out int rawBodyStart, out bool trimAfter)
    {
        rawBodyStart = 0;
        trimAfter = false;
        int i = SkipSpace(s, bodyStart);
        if (string.CompareOrdinal(s, i, "raw", 0, 3) != 0 || (i + 3 < s.Length && char.IsLetterOrDigit(s[i + 3])))
        {
            return false;
        }
        i = SkipSpace(s, i + 3);
        if (i < s.Length && s[i] == '-')
        {
            trimAfter = true;
            i++;
        }
        if (string.CompareOrdinal(s, i, "%}", 0, 2) != 0)
        {
            return false;
        }
        rawBodyStart = i + 2;
        return true;
    }

    private static int ReadRaw(string s, int from, bool trimStart, List<Token> tokens, ref int line,
        out bool trimNext, out bool dropNewline)
    {
        for (int i = s.IndexOf("{%", from, StringComparison.Ordinal); i >= 0; i = s.IndexOf("{%", i + 2, StringComparison.Ordinal))
        {
            int j = i + 2;
            bool minus = j < s.Length && s[j] == '-';
            j = SkipSpace(s, minus ? j + 1 : j);
            if (string.CompareOrdinal(s, j, "endraw", 0, 6) != 0)
            {
                continue;
            }
            int close = s.IndexOf("%}", j, StringComparison.Ordinal);
            if (close < 0)
            {
                break;
            }
            string body = s[from..i];
            body = trimStart ? body.TrimStart() : body;
            body = minus ? body.TrimEnd() : body;
            AddText(tokens, body, line);
            line += CountLines(s, from, close + 2);
            trimNext = s[close - 1] == '-';
            dropNewline = s[close - 1] != '+';
            return close + 2;
        }
        throw new JinjaException(line, "'raw' block is not closed (missing '{% endraw %}')");
    }

    private static int SkipSpace(string s, int i)
    {
        while (i < s.Length && char.IsWhiteSpace(s[i]))
        {
            i++;
        }
        return i;
    }

    private static int TokenizeTag(string s, int pos, char closer, List<Token> tokens, ref int line, out bool minus, out bool plus)
    {
        int depth = 0; // brackets: "}}" inside a dict literal does not close a variable tag
        while (true)
        {
            while (pos < s.Length && char.IsWhiteSpace(s[pos]))
            {
                line += s[pos] == '\n' ? 1 : 0;
                pos++;
            }
            if (pos >= s.Length)
            {
                throw new JinjaException(line, $"tag is not closed (missing '{closer}}}')");
            }
            // Closing: "-%}", "+%}", "%}" (or the same with "}}").
            foreach (string prefix in new[] { "-", "+", "" })
            {
                string close = prefix + closer + "}";
                if (depth == 0 && string.CompareOrdinal(s, pos, close, 0, close.Length) == 0)
                {
                    minus = prefix == "-";
                    plus = prefix == "+";
                    tokens.Add(new Token(closer == '}' ? TokenKind.VariableEnd : TokenKind.BlockEnd, "", line));
                    return pos + close.Length;
                }
            }
            char c = s[pos];
            if (c is '\'' or '"')
            {
                pos = ReadString(s, pos, line, tokens);
            }
            else if (char.IsDigit(c))
            {
                // After "." (matrix.0.1) digits are an index, never the start of a float.
                bool afterDot = tokens.Count > 0 && tokens[^1] is { Kind: TokenKind.Operator, Value: "." };
                pos = afterDot ? ReadIndex(s, pos, line, tokens) : ReadNumber(s, pos, line, tokens);
            }
            else if (char.IsLetter(c) || c == '_')
            {
                int start = pos;
                while (pos < s.Length && (char.IsLetterOrDigit(s[pos]) || s[pos] == '_'))
                {
                    pos++;
                }
                tokens.Add(new Token(TokenKind.Name, s[start..pos], line));
            }
            else
            {
                string? op = s_operators.FirstOrDefault(o => string.CompareOrdinal(s, pos, o, 0, o.Length) == 0);
                if (op is null)
                {
                    throw new JinjaException(line, $"unexpected character '{c}'");
                }
                depth += op is "(" or "[" or "{" ? 1 : op is ")" or "]" or "}" ? -1 : 0;
                tokens.Add(new Token(TokenKind.Operator, op, line));
                pos += op.Length;
            }
        }
    }

    private static int ReadString(string s, int pos, int line, List<Token> tokens)
    {
        char quote = s[pos++];
        var sb = new StringBuilder();
        while (pos < s.Length && s[pos] != quote)
        {
            char c = s[pos++];
            if (c != '\\' || pos >= s.Length)
            {
                sb.Append(c);
                continue;
            }
            char e = s[pos++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case '0': sb.Append('\0'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case '\n': break;
                case 'u' when pos + 4 <= s.Length:
                    sb.Append((char)int.Parse(s.AsSpan(pos, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    pos += 4;
                    break;
                case 'x' when pos + 2 <= s.Length:
                    sb.Append((char)int.Parse(s.AsSpan(pos, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    pos += 2;
                    break;
                default: sb.Append('\\').Append(e); break; // Python keeps unknown escapes as written
            }
        }
        if (pos >= s.Length)
        {
            throw new JinjaException(line, "string literal is not closed");
        }
        tokens.Add(new Token(TokenKind.String, sb.ToString(), line));
        return pos + 1;
    }

    private static int ReadIndex(string s, int pos, int line, List<Token> tokens)
    {
        int start = pos;
        while (pos < s.Length && char.IsDigit(s[pos]))
        {
            pos++;
        }
        tokens.Add(new Token(TokenKind.Integer, s[start..pos], line));
        return pos;
    }

    private static int ReadNumber(string s, int pos, int line, List<Token> tokens)
    {
        int start = pos;
        while (pos < s.Length && (char.IsDigit(s[pos]) || s[pos] == '_'))
        {
            pos++;
        }
        bool isFloat = false;
        if (pos + 1 < s.Length && s[pos] == '.' && char.IsDigit(s[pos + 1]))
        {
            isFloat = true;
            pos++;
            while (pos < s.Length && char.IsDigit(s[pos]))
            {
                pos++;
            }
        }
        if (pos < s.Length && s[pos] is 'e' or 'E')
        {
            int e = pos + 1;
            if (e < s.Length && s[e] is '+' or '-')
            {
                e++;
            }
            if (e < s.Length && char.IsDigit(s[e]))
            {
                isFloat = true;
                pos = e;
                while (pos < s.Length && char.IsDigit(s[pos]))
                {
                    pos++;
                }
            }
        }
        tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, s[start..pos].Replace("_", ""), line));
        return pos;
    }
}
