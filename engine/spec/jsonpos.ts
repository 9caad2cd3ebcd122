// Locates a JSON syntax error. V8's JSON.parse gives "at position N" for most
// errors but not for an unexpected token (Node 20 writes `Unexpected token '}',
// "..." is not valid JSON` and quotes the whole input), so a small scanner finds it.

export interface JsonErrorPosition {
  /** Offset in UTF-16 code units, as JSON.parse counts. */
  position: number;
  /** 1-based line and column. */
  line: number;
  column: number;
}

class ScanError extends Error {
  constructor(readonly position: number) {
    super('scan error');
  }
}

class Scanner {
  private pos = 0;

  constructor(private readonly text: string) {}

  scanDocument(): void {
    this.skipSpace();
    this.scanValue();
    this.skipSpace();
    if (this.pos < this.text.length) this.fail();
  }

  private fail(): never {
    throw new ScanError(this.pos);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text[this.pos]!)) this.pos++;
  }

  private expect(char: string): void {
    if (this.text[this.pos] !== char) this.fail();
    this.pos++;
  }

  private scanValue(): void {
    const char = this.text[this.pos];
    if (char === '{') return this.scanContainer('}', true);
    if (char === '[') return this.scanContainer(']', false);
    if (char === '"') return this.scanString();
    if (char !== undefined && '-0123456789'.includes(char)) return this.scanNumber();
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return;
      }
    }
    this.fail();
  }

  private scanContainer(close: string, isObject: boolean): void {
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === close) {
      this.pos++;
      return;
    }
    for (;;) {
      this.skipSpace();
      if (isObject) {
        if (this.text[this.pos] !== '"') this.fail();
        this.scanString();
        this.skipSpace();
        this.expect(':');
        this.skipSpace();
      }
      this.scanValue();
      this.skipSpace();
      if (this.text[this.pos] === close) {
        this.pos++;
        return;
      }
      this.expect(',');
    }
  }

  private scanString(): void {
    this.pos++;
    while (this.pos < this.text.length) {
      const char = this.text[this.pos]!;
      if (char === '"') {
        this.pos++;
        return;
      }
      if (char < ' ') this.fail();
      if (char === '\\') {
        const escape = this.text[this.pos + 1];
        if (escape === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) {
            this.pos += 2;
            this.fail();
          }
          this.pos += 6;
          continue;
        }
        this.pos++;
        if (escape === undefined || !'"\\/bfnrt'.includes(escape)) this.fail();
      }
      this.pos++;
    }
    this.fail();
  }

  private scanNumber(): void {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.pos));
    if (match === null) {
      this.pos++;
      this.fail();
    }
    this.pos += match[0].length;
  }
}

/** Finds where a JSON text stops being valid, or returns undefined if it is valid. */
export function findJsonError(text: string): JsonErrorPosition | undefined {
  try {
    new Scanner(text).scanDocument();
    return undefined;
  } catch (err) {
    if (!(err instanceof ScanError)) throw err;
    return toLineColumn(text, err.position);
  }
}

/** Returns the position of a JSON.parse error, from its message or from the scanner. */
export function jsonErrorPosition(text: string, err: SyntaxError): JsonErrorPosition {
  const match = /at position (\d+)/.exec(err.message);
  if (match !== null) return toLineColumn(text, Number(match[1]));
  return findJsonError(text) ?? toLineColumn(text, text.length);
}

function toLineColumn(text: string, position: number): JsonErrorPosition {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - (before.lastIndexOf('\n') + 1) + 1;
  return { position, line, column };
}
