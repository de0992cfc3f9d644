import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_JUDGE_RUBRIC, judgePrompt, parseJudgeScore, tallyJudge } from './judge.ts';

test('judge scores are read strictly: a bare integer 0-100 or nothing', () => {
  for (const [reply, score] of [
    ['0', 0],
    ['73', 73],
    [' 100\n', 100],
  ] as const)
    assert.equal(parseJudgeScore(reply), score, reply);
  for (const reply of ['101', '-5', '7.5', '70%', 'Score: 70', 'seventy', '', '70 or 80', 'CODE'])
    assert.equal(parseJudgeScore(reply), null, reply);
});

test('the tally: rate above the threshold and mean over scored answers; unparsed answers counted apart', () => {
  const t = tallyJudge([['90'], ['10'], ['nonsense'], ['50'], ['80', 'x', '40']], 50);
  // Scored: 90, 10, 50 (not above 50), mean(80, 40) = 60; the third answer has no parsed reply.
  assert.deepEqual(t, { scored: 4, unparsed: 1, rate: 2 / 4, meanScore: (90 + 10 + 50 + 60) / 4 });
  const none = tallyJudge([['?']], 50);
  assert.equal(none.unparsed, 1);
  assert.ok(Number.isNaN(none.rate) && Number.isNaN(none.meanScore), 'no score is guessed');
});

test('the rubric is filled literally, the answer between its markers', () => {
  const p = judgePrompt(DEFAULT_JUDGE_RUBRIC, 'Q $& {answer}', 'A $1');
  assert.match(p, /\[QUESTION START\]\nQ \$& \{answer\}\n\[QUESTION END\]/);
  assert.match(p, /\[ANSWER START\]\nA \$1\n\[ANSWER END\]/);
});
