// The scenario registry: one module per scenario, in the order they run.
import type { Scenario } from '../framework/types.js';

/** Every scenario, by name. Modules register here as they are written. */
export const scenarios: Scenario[] = [];

/** Returns a scenario by name or throws with the known names. */
export function findScenario(name: string): Scenario {
  const found = scenarios.find((s) => s.name === name);
  if (!found) throw new Error(`unknown scenario \`${name}\`; known: ${scenarios.map((s) => s.name).join(', ')}`);
  return found;
}
