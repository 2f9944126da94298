/** Domain code takes a Clock and never calls Date.now() itself, so tests can fix time. */
export interface Clock {
  now(): Date;
}

export class SystemClock implements Clock {
  now(): Date {
    return new Date();
  }
}

export class FixedClock implements Clock {
  private t: number;
  constructor(at: Date | number) {
    this.t = typeof at === 'number' ? at : at.getTime();
  }
  now(): Date {
    return new Date(this.t);
  }
  set(at: Date | number): void {
    this.t = typeof at === 'number' ? at : at.getTime();
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export const systemClock: Clock = new SystemClock();
