// Hash routes (#/designer, #/results/3,5, #/replay/3): reload-safe and no server routes needed.
export type Screen = 'designer' | 'run' | 'results' | 'library' | 'replay' | 'settings';
export const SCREENS: { id: Screen; label: string; key: string }[] = [
  { id: 'designer', label: 'Designer', key: '1' },
  { id: 'run', label: 'Run', key: '2' },
  { id: 'results', label: 'Results', key: '3' },
  { id: 'library', label: 'Library', key: '4' },
  { id: 'replay', label: 'Replay', key: '5' },
  { id: 'settings', label: 'Settings', key: '6' },
];

function parse(hash: string): { screen: Screen; ids: number[] } {
  const [, screen = 'designer', ids = ''] = hash.replace(/^#/, '').split('/');
  const known = SCREENS.some((s) => s.id === screen);
  return {
    screen: known ? (screen as Screen) : 'designer',
    ids: ids
      .split(',')
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0),
  };
}

export class Router {
  screen = $state<Screen>('designer');
  ids = $state<number[]>([]);

  constructor() {
    this.read();
    window.addEventListener('hashchange', () => this.read());
  }

  private read(): void {
    const route = parse(window.location.hash);
    this.screen = route.screen;
    this.ids = route.ids;
  }

  go(screen: Screen, ids: number[] = []): void {
    window.location.hash = `#/${screen}${ids.length ? `/${ids.join(',')}` : ''}`;
  }
}
