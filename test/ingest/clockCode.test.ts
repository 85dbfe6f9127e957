import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLOCK_GRID, clockCells, decodeCells } from '../../ingest/client/clockCode.ts';

const luma = (cells: number[]): number[] => cells.map((c) => (c ? 235 : 16));

test('the clock code painted by the host page decodes to the painted epoch ms', () => {
  const painted = 1_795_818_000_123;
  const cells = clockCells(painted);
  assert.equal(cells.length, CLOCK_GRID.cols * CLOCK_GRID.rows);
  assert.equal(decodeCells(luma(cells), painted + 800), painted);
});

test('a flipped bit, a broken guard or a grey cell is rejected, never misread', () => {
  const painted = 1_795_818_000_123;
  const cells = clockCells(painted);
  for (const i of [3, 12, 30, 44]) {
    const bad = [...cells];
    bad[i] = bad[i] ? 0 : 1;
    assert.equal(decodeCells(luma(bad), painted + 800), undefined, `bit ${i}`);
  }
  const grey = luma(cells);
  grey[20] = 128;
  assert.equal(decodeCells(grey, painted + 800), undefined);
});
