/**
 * The demo task's work: an answer about the prompt, streamed word by word
 * like a chat reply. Deterministic, so tests can check every token.
 */
export function composeReply(prompt: string, pid: number): string[] {
  const words = prompt.split(/\s+/).filter(Boolean);
  const longest = words.reduce((best, word) => (word.length > best.length ? word : best), '');
  const reply =
    `You wrote ${words.length} word${words.length === 1 ? '' : 's'} and ${prompt.length} characters. ` +
    `The longest word is "${longest}". ` +
    `This answer was written once, by the task-runner agent (pid ${pid}), whichever worker you asked.`;
  return reply.split(' ').map((word, i, all) => (i < all.length - 1 ? `${word} ` : word));
}
