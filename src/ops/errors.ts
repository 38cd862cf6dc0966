/**
 * A problem with what the operator asked for (a destination that exists, a corrupt backup, a
 * target that holds data, an unreachable database): the CLI prints the message alone and
 * exits 2, having written nothing unless the message says otherwise.
 */
export class OperatorError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OperatorError';
  }
}
