// An evaluation question list loaded from a file: a JSON list of strings, or plain text with one
// question per line (blank lines skipped).
export type QuestionFile = { ok: true; questions: string[] } | { ok: false; error: string };

export function questionsFromFile(text: string): QuestionFile {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      return { ok: false, error: `not valid JSON: ${(error as Error).message}` };
    }
    if (!Array.isArray(parsed) || !parsed.every((q) => typeof q === 'string'))
      return { ok: false, error: 'a JSON question file holds one list of strings' };
    const questions = parsed.map((q) => q.trim()).filter(Boolean);
    return questions.length ? { ok: true, questions } : { ok: false, error: 'the list is empty' };
  }
  const questions = trimmed
    .split(/\r?\n/)
    .map((q) => q.trim())
    .filter(Boolean);
  return questions.length ? { ok: true, questions } : { ok: false, error: 'the file has no questions' };
}
